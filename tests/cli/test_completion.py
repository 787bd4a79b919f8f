"""`toxbridge completion bash|zsh|fish`: each script, loaded into the real shell,
completes subcommands and each subcommand's own options.

bash: the completion function is called as bash's `complete -F` calls it; fish: its own
`complete -C`; zsh: an interactive zsh on a pseudo-terminal (zpty), where TAB is typed
and the screen is read until the completed text appears.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import toxbridge


def script(shell: str) -> str:
    done = subprocess.run(
        toxbridge("completion", shell), capture_output=True, text=True, check=True, timeout=60
    )
    return done.stdout


def shell_path(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed (.ci/run installs it: apt-get install {name})")
    return path


@pytest.fixture
def on_path(tmp_path: Path) -> Path:
    """A directory with a `toxbridge` command that runs this checkout's."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    command = bin_dir / "toxbridge"
    command.write_text(f'#!/bin/sh\nexec {sys.executable} -m toxbridge "$@"\n')
    command.chmod(0o755)
    return bin_dir


BASH = """
source "$1"
complete -p toxbridge >/dev/null || exit 9
reply() {
  COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
  COMPREPLY=(); _shtab_toxbridge toxbridge "${COMP_WORDS[-1]}" "${COMP_WORDS[-2]}"
  echo "${COMPREPLY[*]}"
}
reply toxbridge pi
reply toxbridge run --lo
reply toxbridge ping --
"""


def test_bash_completes_subcommands_and_their_own_options(tmp_path: Path) -> None:
    path = tmp_path / "toxbridge.bash"
    path.write_text(script("bash"))
    done = subprocess.run(
        [shell_path("bash"), "-c", BASH, "bash", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    subcommand, run_options, ping_options = done.stdout.splitlines()
    assert subcommand == "ping"
    assert run_options.split() == ["--local", "--log-level"]
    assert "--json" in ping_options.split()
    assert "--now" not in ping_options.split()


def test_fish_completes_subcommands_and_their_own_options(tmp_path: Path, on_path: Path) -> None:
    path = tmp_path / "toxbridge.fish"
    path.write_text(script("fish"))
    commands = (
        f"set PATH {on_path} $PATH; source {path}; "
        "complete -C 'toxbridge pi'; echo ---; complete -C 'toxbridge run --lo'; echo ---; "
        "complete -C 'toxbridge cancel --'"
    )
    done = subprocess.run(
        [shell_path("fish"), "--no-config", "-c", commands],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    subcommand, run_options, cancel_options = (
        [line.split("\t")[0] for line in part.strip().splitlines()]
        for part in done.stdout.split("---")
    )
    assert subcommand == ["ping"]
    assert run_options == ["--local", "--log-level"]
    assert "--run-id" in cancel_options
    assert "--now" not in cancel_options


ZSH = r"""
zmodload zsh/zpty
zpty z zsh -f -i
zpty -w z "PS1='%% '; fpath=($1 \$fpath); autoload -Uz compinit; compinit -u -D; PATH=$2:\$PATH"
zpty -w -n z $'toxbridge pi\t'
zpty -r z out '*toxbridge ping*' && print -r -- SUBCOMMAND
zpty -w -n z $'--js\t'
zpty -r z out '*--json*' && print -r -- PING-OPTION
zpty -w -n z $'\C-u toxbridge run --lo\t'
zpty -r z out '*--local*--log-level*' && print -r -- RUN-OPTIONS
zpty -d z
"""


def test_zsh_completes_subcommands_and_their_own_options(tmp_path: Path, on_path: Path) -> None:
    functions = tmp_path / "zfunc"
    functions.mkdir()
    (functions / "_toxbridge").write_text(script("zsh"))
    done = subprocess.run(
        [shell_path("zsh"), "-f", "-c", ZSH, "zsh", str(functions), str(on_path)],
        capture_output=True,
        text=True,
        timeout=60,  # a completion that never appears would block zpty -r until here
    )
    assert done.stdout.split() == ["SUBCOMMAND", "PING-OPTION", "RUN-OPTIONS"], done.stderr


def test_an_unknown_shell_is_a_usage_error() -> None:
    done = subprocess.run(toxbridge("completion", "tcsh"), capture_output=True, timeout=60)
    assert done.returncode == 125
