#!/usr/bin/env bash
# Everything CI needs for the VS Code extension, from a fresh Debian 12 machine (as root):
# system packages, code-server for the end-to-end test, then npm ci, lint, unit tests and
# the .vsix. Safe to run again: finished steps are skipped quickly.
#
#   bash .ci/vscode.sh                 # all steps
#   bash .ci/vscode.sh system code-server extension   # any subset, in this order
set -euo pipefail

CODE_SERVER_VERSION=4.100.3
CODE_SERVER_DIR=${TOXBRIDGE_CODE_SERVER_DIR:-/opt/code-server-$CODE_SERVER_VERSION}
APT_PACKAGES=(chromium ripgrep libkrb5-dev build-essential python3)
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
extension_dir="$repo/vscode-extension"

log() { printf '\n== vscode.sh: %s\n' "$*"; }

as_root() {
    if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

step_system() {
    local missing=() package
    for package in "${APT_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' \
            || missing+=("$package")
    done
    if ((${#missing[@]} == 0)); then
        log "system packages already installed"
        return
    fi
    log "installing ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
}

ripgrep_target() {
    case $(uname -m) in
        x86_64) echo x86_64-unknown-linux-musl ;;
        aarch64) echo aarch64-unknown-linux-musl ;;
        *) echo "vscode.sh: no ripgrep target known for $(uname -m)" >&2; return 1 ;;
    esac
}

# @vscode/ripgrep's postinstall downloads rg from a host this machine cannot reach; it
# looks in $TMPDIR/vscode-ripgrep-cache-<package version>/ first, so put Debian's rg there.
seed_ripgrep_cache() {
    local work=$1 shrinkwrap rg_package rg_release asset cache
    npm pack --silent --pack-destination "$work" "code-server@$CODE_SERVER_VERSION" >/dev/null
    shrinkwrap=$(tar -xzOf "$work/code-server-$CODE_SERVER_VERSION.tgz" \
        package/lib/vscode/npm-shrinkwrap.json)
    rg_package=$(node -e '
        const lock = JSON.parse(process.argv[1]);
        process.stdout.write(lock.packages["node_modules/@vscode/ripgrep"].version);
    ' "$shrinkwrap")
    npm pack --silent --pack-destination "$work" "@vscode/ripgrep@$rg_package" >/dev/null
    rg_release=$(tar -xzOf "$work/vscode-ripgrep-$rg_package.tgz" package/lib/postinstall.js \
        | sed -n "s/^const VERSION = '\(.*\)';.*/\1/p")
    asset="ripgrep-$rg_release-$(ripgrep_target).tar.gz"
    cache="${TMPDIR:-/tmp}/vscode-ripgrep-cache-$rg_package"
    mkdir -p "$cache"
    tar -czf "$cache/$asset" -C "$(dirname "$(command -v rg)")" rg
    log "seeded $cache/$asset with $(command -v rg)"
}

step_code_server() {
    local installed
    installed=$(node -p "require('$CODE_SERVER_DIR/node_modules/code-server/package.json').version" \
        2>/dev/null || true)
    if [[ $installed == "$CODE_SERVER_VERSION" && -x $CODE_SERVER_DIR/node_modules/.bin/code-server ]]; then
        log "code-server $CODE_SERVER_VERSION already in $CODE_SERVER_DIR"
    else
        log "installing code-server $CODE_SERVER_VERSION into $CODE_SERVER_DIR (about a minute)"
        local work
        work=$(mktemp -d)
        seed_ripgrep_cache "$work"
        as_root rm -rf "$CODE_SERVER_DIR"
        as_root mkdir -p "$CODE_SERVER_DIR"
        echo '{"private": true}' | as_root tee "$CODE_SERVER_DIR/package.json" >/dev/null
        # A local install, not `npm install -g`: code-server's postinstall runs a nested
        # `npm install` in lib/vscode that inherits npm_config_global and would then retire
        # code-server itself. node-pty's postinstall runs `npx node-gyp`, which must not stop
        # to ask; as root the postinstall needs --unsafe-perm; native modules build against
        # the system's node headers.
        (cd "$CODE_SERVER_DIR" && as_root env npm_config_yes=true npm_config_nodedir=/usr \
            npm install --unsafe-perm --no-fund --no-audit \
            "$work/code-server-$CODE_SERVER_VERSION.tgz")
        rm -rf "$work"
    fi
    as_root ln -sfn "$CODE_SERVER_DIR/node_modules/.bin/code-server" /usr/local/bin/code-server
}

step_extension() {
    cd "$extension_dir"
    if [[ ! -d node_modules ]] || ! cmp -s package-lock.json node_modules/.package-lock.json.ci; then
        log "npm ci"
        npm ci --no-fund --no-audit
        cp package-lock.json node_modules/.package-lock.json.ci
    else
        log "node_modules matches package-lock.json"
    fi
    log "lint"
    npm run --silent lint
    log "unit tests"
    npm test
    log "package"
    npm run --silent package
}

steps=("$@")
((${#steps[@]})) || steps=(system code-server extension)
for step in "${steps[@]}"; do
    case $step in
        system) step_system ;;
        code-server) step_code_server ;;
        extension) step_extension ;;
        *) echo "vscode.sh: unknown step '$step' (system, code-server, extension)" >&2; exit 2 ;;
    esac
done
