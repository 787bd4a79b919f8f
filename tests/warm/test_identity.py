"""Warm and cold give the same run: exit code, stdout and stderr, colours included.

Each invocation goes through `toxbridge run` to a warm server and to a `--cold` one
over the same projects; outputs are compared after removing what differs between any
two runs of tox (durations, pids, the temp path).
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import RunningServer, toxbridge

INVOCATIONS: dict[str, tuple[str, ...]] = {
    "failing-tests": ("-e", "py"),
    "posargs": ("-e", "py", "--", "test_ok.py"),
    "both-streams": ("-e", "echo", "--", "hello", "world"),
    "exit-code": ("-e", "exit", "--", "3"),
    "several-envs": ("-e", "py,echo,exit"),
    "several-envs-failing-last": ("r", "-e", "echo,slow,py"),
    "parallel": ("-p", "-e", "py,echo,slow"),
    "parallel-no-spinner-all": ("p", "-p", "all", "-e", "echo,slow,exit"),
    "list-short": ("l",),
    "list-long": ("-l",),
    "list-all": ("-a", "-v"),
    "version": ("--version",),
    "help": ("--help",),
    "show-config": ("c", "-e", "py,nobase", "-k", "commands", "base_python", "env_dir"),
    "missing-interpreter": ("-e", "py27"),
    "missing-interpreter-skipped": ("--skip-missing-interpreters", "true", "-e", "py27,echo"),
    "basepython-missing": ("-e", "nobase"),
    "unknown-env": ("-e", "nosuchenv"),
    "unknown-option": ("--no-such-option",),
    "bad-tox-ini": ("-c", "bad/tox.ini", "-e", "py"),
    "bad-tox-ini-list": ("-c", "bad/tox.ini", "l"),
    "toml-project": ("-c", "toml/pyproject.toml"),
    "toml-project-list": ("-c", "toml/pyproject.toml", "l"),
    "colored-yes": ("--colored", "yes", "-e", "color,exit"),
    "quiet": ("-qq", "-e", "echo"),
    "verbose": ("-vv", "-e", "exit"),
    "verbose-failing": ("-vv", "-e", "py"),
    "verbose-parallel": ("-vv", "-p", "-e", "echo,exit"),
}

# envs run at once: their output comes in any order
UNORDERED = {"parallel", "parallel-no-spinner-all", "verbose-parallel"}

_DURATION = re.compile(rb"\d+(\.\d+)?(=setup\[\d+(\.\d+)?\]\+cmd\[\d+(\.\d+)?\])? seconds?\b")
_PYTEST_TIME = re.compile(rb" in \d+\.\d+s")
_PID = re.compile(rb"pid[= ]\d+")
# once-per-process file-system probes of virtualenv and python_discovery
_FS_PROBE = re.compile(
    rb"^\S+: <ms> D (filesystem is (not )?case-sensitive|symlink on filesystem does( not)? work) "
)
_LOG_MS = re.compile(rb"^(\S+: )\d+ ([A-Z] )", re.MULTILINE)  # -vv: ms since start
_LIVE_DONE = re.compile(rb"^(\x1b\[[0-9;]*m)?\S+: (OK|FAIL|SKIP)\b.* in <t> seconds")


@dataclass(frozen=True)
class Outcome:
    code: int
    stdout: bytes
    stderr: bytes


def run_through(
    server: RunningServer, *args: str, color: str = "no", ours: tuple[str, ...] = ()
) -> Outcome:
    result = subprocess.run(
        toxbridge("run", "--color", color, *ours, *server.client_args(), *args),
        capture_output=True,
        timeout=90,
    )
    return Outcome(result.returncode, result.stdout, result.stderr)


def normalise(data: bytes, root: Path, *, unordered: bool = False) -> bytes:
    data = data.replace(str(root).encode(), b"<root>")
    data = _DURATION.sub(b"<t> seconds", data)
    data = _PYTEST_TIME.sub(b" in <t>s", data)
    data = _PID.sub(b"pid=<pid>", data)
    data = _LOG_MS.sub(rb"\1<ms> \2", data)
    # tox's main thread prints an env's "done" line while the next env already logs
    # from its thread: where it lands is a race in tox itself, so compare them apart
    # virtualenv and python_discovery each probe (and debug-log) the file system's case
    # sensitivity and symlink support once per process; which one gets there first, and
    # under which env's name, depends on import order and, with -p, on tox's threads:
    # debug noise, not a difference in behaviour
    lines = [line for line in data.split(b"\n") if not _FS_PROBE.search(line)]
    done = sorted(line for line in lines if _LIVE_DONE.match(line))
    rest = [line for line in lines if not _LIVE_DONE.match(line)]
    if unordered:
        # with -p, which envs get a "done" line at all depends on timing, too
        return b"\n".join(sorted(rest))
    return b"\n".join([*rest, b"-- done lines --", *done])


def assert_same(warm: Outcome, cold: Outcome, root: Path, *, unordered: bool = False) -> None:
    assert warm.code == cold.code, (warm, cold)
    for stream in ("stdout", "stderr"):
        warm_text = normalise(getattr(warm, stream), root, unordered=unordered)
        cold_text = normalise(getattr(cold, stream), root, unordered=unordered)
        assert warm_text == cold_text, _first_difference(stream, warm_text, cold_text)


def _first_difference(stream: str, warm: bytes, cold: bytes) -> str:
    pairs = zip(warm.splitlines(), cold.splitlines(), strict=False)
    line, (warm_line, cold_line) = next(
        ((n, pair) for n, pair in enumerate(pairs) if pair[0] != pair[1]), (-1, (b"", b""))
    )
    return f"{stream} line {line}: warm {warm_line!r} != cold {cold_line!r}"


@pytest.mark.parametrize("name", list(INVOCATIONS))
def test_same_as_cold(
    name: str, warm_server: RunningServer, cold_server: RunningServer, warm_project: Path
) -> None:
    args = INVOCATIONS[name]
    warm = run_through(warm_server, *args)
    cold = run_through(cold_server, *args)
    assert_same(warm, cold, warm_project, unordered=name in UNORDERED)
    assert "cold run" not in warm_server.log.read_text()


WITH_EVENTS = ("failing-tests", "posargs", "several-envs", "parallel", "verbose-failing")


@pytest.mark.parametrize("name", WITH_EVENTS)
def test_same_as_cold_with_test_events(
    name: str,
    warm_server: RunningServer,
    cold_server: RunningServer,
    warm_project: Path,
    tmp_path: Path,
) -> None:
    """With the reporter in pytest (`--report-log` asks for test events), warm and cold
    still print the same, and report the same tests the same way."""
    args = INVOCATIONS[name]
    logs = {side: tmp_path / f"{side}.jsonl" for side in ("warm", "cold")}
    warm = run_through(warm_server, *args, ours=("--report-log", str(logs["warm"])))
    cold = run_through(cold_server, *args, ours=("--report-log", str(logs["cold"])))
    assert_same(warm, cold, warm_project, unordered=name in UNORDERED)
    reports = {side: _test_reports(path) for side, path in logs.items()}
    assert reports["warm"] == reports["cold"]
    assert reports["warm"], "the run reported no tests: were test events on?"


def _test_reports(path: Path) -> list[tuple[str, str, str]]:
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    reports = [line for line in lines if line.get("$report_type") == "TestReport"]
    return sorted((line["nodeid"], line["when"], line["outcome"]) for line in reports)


def test_client_colour_is_the_same(
    warm_server: RunningServer, cold_server: RunningServer, warm_project: Path
) -> None:
    warm = run_through(warm_server, "-e", "color,py", color="yes")
    cold = run_through(cold_server, "-e", "color,py", color="yes")
    assert b"\x1b[" in warm.stdout
    assert_same(warm, cold, warm_project)


def test_allowed_env_reaches_tox_the_same(
    warm_server: RunningServer, cold_server: RunningServer, warm_project: Path
) -> None:
    # NO_COLOR is read by tox itself, TOXBRIDGE_USER_* by the env's command (pass_env)
    env = {"NO_COLOR": "1", "TOXBRIDGE_USER_GREETING": "hi"}
    warm = _run_with_env(warm_server, ("-e", "showenv"), **env)
    cold = _run_with_env(cold_server, ("-e", "showenv"), **env)
    assert b"greeting hi" in warm.stdout
    assert_same(warm, cold, warm_project)


def _run_with_env(server: RunningServer, args: tuple[str, ...], **env: str) -> Outcome:
    import asyncio

    from toxbridge.config import parse_endpoint
    from toxbridge.net.client import Client
    from toxbridge.wire import protocol

    async def collect() -> Outcome:
        out, err = b"", b""
        async with (
            Client(parse_endpoint(server.endpoint), timeout=10) as client,
            client.run(list(args), env=env) as remote,
        ):
            async for event in remote:
                if isinstance(event, protocol.Output):
                    if event.stream is protocol.Stream.STDOUT:
                        out += event.data
                    else:
                        err += event.data
        assert remote.result is not None
        return Outcome(remote.result.code, out, err)

    return asyncio.run(collect())
