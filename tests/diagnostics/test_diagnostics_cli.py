"""`toxbridge parse` as a user runs it: a real subprocess, real files and pipes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.diagnostics.corpus import DATA
from toxbridge.cli import main as cli

# Until `toxbridge.cli.main` registers `parse`, drive the module the way cli.main would.
_DRIVER = """
import argparse, sys
from toxbridge.cli import parse as cli_parse
from toxbridge.errors import ToxbridgeError
parser = argparse.ArgumentParser(prog="toxbridge parse")
cli_parse.configure(parser)
try:
    sys.exit(cli_parse.run(parser.parse_args(sys.argv[1:])))
except ToxbridgeError as error:
    print(f"toxbridge: {error}", file=sys.stderr)
    sys.exit(error.exit_code)
"""
_REGISTERED = any(name == "parse" for name, _, _ in cli.SUBCOMMANDS)
_COMMAND = (
    [sys.executable, "-m", "toxbridge", "parse"] if _REGISTERED else [sys.executable, "-c", _DRIVER]
)
LOG = DATA / "tox-two-envs.log"
CONTAINER = "/tmp/toxbridge-corpus/proj"


def _run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [*_COMMAND, *args], input=stdin, capture_output=True, check=False, timeout=60
    )


def test_json_lines_with_map() -> None:
    mapping = f"{CONTAINER}=/home/me/proj"
    done = _run("--format", "json", "--map", mapping, "--root", "/home/me/proj", str(LOG))
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in done.stdout.decode().splitlines()]
    errors = [record for record in records if record["severity"] == "error"]
    assert len(errors) == 64
    assert set(records[0]) == {"path", "line", "column", "severity", "message", "test", "env"}
    assert {record["env"] for record in errors} == {"alpha", "beta"}
    assert all(record["path"].startswith("/home/me/proj/") for record in records)
    assert {
        "path": "/home/me/proj/src/calc.py",
        "line": 22,
        "column": None,
        "severity": "error",
        "message": "ValueError: bad value: -1",
        "test": "tests/test_basic.py::test_project_raise",
        "env": "alpha",
    } in records


def test_quickfix_from_stdin_with_root() -> None:
    log = LOG.read_bytes()
    for source in ([], ["-"]):
        done = _run("--root", "/work/proj", *source, stdin=log)
        assert done.returncode == 0, done.stderr
        lines = done.stdout.decode().splitlines()
        assert "/work/proj/tests/test_basic.py:22:1: error: AssertionError: assert 1 == 2" in (
            line.partition(" [")[0] for line in lines
        )


def test_github_annotations() -> None:
    done = _run("--format", "github", str(DATA / "p9-auto.log"))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.decode().splitlines()
    assert (
        "::error file=src/calc.py,line=22,title=tests/test_basic.py%3A%3Atest_project_raise"
        "::ValueError: bad value: -1"
    ) in lines
    assert all(line.startswith(("::error ", "::warning ")) for line in lines)


def test_log_without_failures_exits_zero() -> None:
    done = _run(stdin=b"=== test session starts ===\n=== 3 passed in 0.01s ===\n")
    assert (done.returncode, done.stdout, done.stderr) == (0, b"", b"")


@pytest.mark.parametrize("kind", ["missing", "directory"])
def test_unreadable_input_is_one_clear_line(kind: str, tmp_path: Path) -> None:
    target = tmp_path / "nope.log" if kind == "missing" else tmp_path
    done = _run(str(target))
    assert done.returncode != 0
    assert done.stdout == b""
    message = done.stderr.decode().strip()
    assert message.startswith(f"toxbridge: cannot read {target}: ")
    assert "\n" not in message


def test_bad_map_is_one_clear_line() -> None:
    done = _run("--map", "/app", str(LOG))
    assert done.returncode != 0
    assert done.stderr.decode().strip() == "toxbridge: --map expects CONTAINER=LOCAL, got '/app'"
