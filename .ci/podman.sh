#!/usr/bin/env bash
# Podman for tests/container/ on Debian 12, as root: the packages, and a Debian bookworm
# base image built from a debootstrap rootfs (no image registry is reachable here).
# Idempotent: once the image exists this takes about a second.
#   TOXBRIDGE_BASE_IMAGE  image name (default localhost/toxbridge-base:bookworm)
#   DEBIAN_MIRROR         mirror for debootstrap (default: the one this machine's apt uses)
set -euo pipefail
cd "$(dirname "$0")/.."

# The mirror apt uses for bookworm itself (not -security or -updates): the first URI of a
# deb822 source in /etc/apt/sources.list.d/*.sources whose Suites name bookworm, else the
# first `deb URI bookworm` line of /etc/apt/sources.list. Whatever apt reaches, this can.
apt_mirror() {
    local file
    for file in /etc/apt/sources.list.d/*.sources; do
        [[ -f $file ]] || continue
        awk '
            /^[[:space:]]*$/ { if (uri && suite) { print uri; exit } uri = ""; suite = 0; next }
            tolower($1) == "uris:" { uri = $2 }
            tolower($1) == "suites:" { for (i = 2; i <= NF; i++) if ($i == "bookworm") suite = 1 }
            END { if (uri && suite) print uri }
        ' "$file" | head -n 1
    done | head -n 1
    if [[ -f /etc/apt/sources.list ]]; then
        awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }' /etc/apt/sources.list
    fi
}

image=${TOXBRIDGE_BASE_IMAGE:-localhost/toxbridge-base:bookworm}
mirror=${DEBIAN_MIRROR:-$(apt_mirror | head -n 1)}
[[ -n $mirror ]] || {
    echo "podman.sh: no bookworm mirror in /etc/apt/sources.list(.d); set DEBIAN_MIRROR" >&2
    exit 1
}
export CONTAINERS_CONF=$PWD/tests/container/containers.conf DEBIAN_FRONTEND=noninteractive

need=()
for tool in podman runc debootstrap newuidmap slirp4netns fuse-overlayfs; do
    command -v "$tool" >/dev/null || need+=("$tool")
done
if ((${#need[@]})); then
    echo "podman.sh: installing podman and friends (missing: ${need[*]})"
    apt-get update -q
    apt-get install -y -q --no-install-recommends \
        podman runc debootstrap uidmap slirp4netns fuse-overlayfs
fi

if podman image exists "$image"; then
    echo "podman.sh: $image is ready"
    exit 0
fi

rootfs=$(mktemp -d /var/tmp/toxbridge-rootfs.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT
echo "podman.sh: debootstrap bookworm from $mirror into $rootfs (about 100 s)"
debootstrap --variant=minbase --include=python3,python3-venv bookworm "$rootfs" "$mirror" \
    >"$rootfs.log" 2>&1 || { tail -n 30 "$rootfs.log"; exit 1; }
rm -f "$rootfs.log"
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
tar -C "$rootfs" -c . | podman import --change 'CMD ["/bin/bash"]' - "$image"
echo "podman.sh: $image is ready"
