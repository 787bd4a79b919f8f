"""Env setup failures found in tox's own output: real tox 4 runs of a project whose envs
cannot be set up (a missing interpreter, a dependency pip cannot install, an unreadable
tox.ini), scanned whole and in every chunking; and where each env is configured."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from toxbridge.diagnostics.setup import (
    ROOT_ENV,
    SetupEvent,
    SetupFailure,
    SetupPassed,
    SetupScanner,
    section_line,
)

TOX_INI = """\
[tox]
env_list = ok
[testenv]
skip_install = true
package = skip
system_site_packages = true
commands = python -c "print('ran')"
[testenv:ok]
[testenv:cmdfails]
commands = python -c "import sys; sys.exit(3)"
[testenv:nopy]
base_python = python2.5
[testenv:deps]
deps = ./no-such-dir
[testenv:skipped]
base_python = python2.5
skip_missing_interpreters = true
"""


Outputs = dict[str, tuple[bytes, bytes]]


def tox(root: Path, *args: str) -> tuple[bytes, bytes]:
    """(stdout, stderr) as tox wrote them."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOXBRIDGE_")}
    done = subprocess.run(
        [sys.executable, "-m", "tox", *args], cwd=root, env=env, capture_output=True, timeout=300
    )
    return done.stdout, done.stderr


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> Outputs:
    root = tmp_path_factory.mktemp("setup")
    (root / "tox.ini").write_text(TOX_INI)
    found = {name: tox(root, "-e", name) for name in ("ok", "nopy", "deps", "skipped")}
    found["both"] = tox(root, "run-parallel", "-e", "ok,nopy")
    found["colored-parallel"] = tox(root, "run-parallel", "--colored", "yes", "-e", "ok,cmdfails")
    broken = tmp_path_factory.mktemp("broken")
    (broken / "tox.ini").write_text("[tox]\nenv_list = py\n[testenv\ncommands = python -c 1\n")
    found["broken"] = tox(broken, "-e", "py")
    found["broken-path"] = (str(broken / "tox.ini").encode(), b"")
    return found


def scan(output: tuple[bytes, bytes], chunk: int | None = None) -> list[SetupEvent]:
    """Both streams, stderr's first (a failed step's stderr comes before tox's line about
    it: tox writes that once the step has exited), in chunks of `chunk` bytes."""
    scanner = SetupScanner()
    found: list[SetupEvent] = []
    for stream, data in zip(("stderr", "stdout"), reversed(output), strict=True):
        step = chunk or len(data) or 1
        for at in range(0, len(data), step):
            found += scanner.feed(data[at : at + step], stream)
    return found + scanner.close()


@pytest.mark.parametrize("chunk", [None, 1, 7, 4096])
def test_a_missing_interpreter_is_the_envs_failure(outputs: Outputs, chunk: int | None) -> None:
    [failure] = scan(outputs["nopy"], chunk)
    assert isinstance(failure, SetupFailure)
    assert failure.env == "nopy"
    assert "could not find python interpreter" in failure.message
    assert "python2.5" in failure.message


def test_a_dependency_pip_cannot_install_carries_pips_error(outputs: Outputs) -> None:
    # as they arrive: tox names the step, pip complains on stderr, tox says it failed
    stdout, stderr = outputs["deps"]
    step, newline, rest = stdout.partition(b"\n")
    assert b"install_deps> " in step
    scanner = SetupScanner()
    found = scanner.feed(step + newline) + scanner.feed(stderr, "stderr") + scanner.feed(rest)
    [failure] = found + scanner.close()
    assert isinstance(failure, SetupFailure)
    assert failure.env == "deps"
    assert failure.message.startswith("install_deps failed: ")
    assert "python -I -m pip install ./no-such-dir" in failure.message  # tox's words
    assert "Invalid requirement: './no-such-dir'" in failure.message  # pip's


def test_an_unreadable_tox_ini_is_located_where_tox_says(outputs: Outputs) -> None:
    [failure] = scan(outputs["broken"])
    assert isinstance(failure, SetupFailure)
    assert failure.env == ROOT_ENV
    assert (failure.path, failure.line) == (outputs["broken-path"][0].decode(), 3)
    assert "failed loading" in failure.message


def test_an_env_that_reaches_its_commands_passed_setup(outputs: Outputs) -> None:
    assert scan(outputs["ok"]) == [SetupPassed("ok")]


def test_a_skipped_missing_interpreter_is_no_failure(outputs: Outputs) -> None:
    assert b"skipped" in outputs["skipped"][0]
    assert scan(outputs["skipped"]) == []


def test_parallel_runs_keep_each_envs_outcome(outputs: Outputs) -> None:
    found = scan(outputs["both"])
    assert SetupPassed("ok") in found
    assert [event.env for event in found if isinstance(event, SetupFailure)] == ["nopy"]


def test_a_coloured_parallel_run_whose_commands_fail_passed_setup(outputs: Outputs) -> None:
    """tox p in colour may print `cmdfails: FAIL ✖ in …` (no code) as an env ends, then the
    env's output and a summary line with the code: a failed command is no setup failure."""
    stdout = outputs["colored-parallel"][0]
    assert b"\x1b[32m" in stdout
    assert b"cmdfails: FAIL code 3" in stdout
    assert sorted(scan(outputs["colored-parallel"]), key=str) == [
        SetupPassed("cmdfails"),
        SetupPassed("ok"),
    ]


def test_the_section_of_each_config_format() -> None:
    ini = "[tox]\nenv_list = a\n\n[testenv]\ndeps = x\n[testenv:a]  # the a env\n"
    assert section_line("tox.ini", ini, "a") == 6
    assert section_line("tox.ini", ini, "b") == 4  # what every env shares
    assert section_line("tox.ini", ini, "") == 1
    cfg = "[metadata]\nname = x\n[tox:tox]\nenv_list = a\n"
    assert section_line("setup.cfg", cfg, "") == 3
    assert section_line("setup.cfg", cfg, "a") == 3
    pyproject = '[project]\nname = "x"\n[tool.tox]\nenv_list = ["a"]\n[tool.tox.env.a]\n'
    assert section_line("pyproject.toml", pyproject, "a") == 5
    assert section_line("pyproject.toml", pyproject, "b") == 3
    legacy = '[tool.tox]\nlegacy_tox_ini = """\n[testenv:a]\ncommands = x\n"""\n'
    assert section_line("pyproject.toml", legacy, "a") == 3
    toml = 'env_list = ["a"]\n[env_run_base]\ncommands = [["x"]]\n[env.a]\n'
    assert section_line("tox.toml", toml, "a") == 4
    assert section_line("tox.toml", toml, "b") == 2
