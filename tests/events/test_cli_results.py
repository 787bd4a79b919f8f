"""`toxbridge run --report-log FILE` and the end-of-run summary: the real CLI, a real server."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RunningServer, toxbridge
from tests.events.conftest import serve_sample
from tests.reporter.conftest import summary_counts

CLI_TIMEOUT_S = 120


def cli(
    server: RunningServer, *args: str, cwd: Path | None = None, tty_stderr: bool = False
) -> tuple[int, str, str]:
    """`toxbridge run` with the server's endpoint; stderr on a terminal if asked."""
    argv = toxbridge("run", *server.client_args(), *args)
    if not tty_stderr:
        done = subprocess.run(argv, capture_output=True, text=True, cwd=cwd, timeout=CLI_TIMEOUT_S)
        return done.returncode, done.stdout, done.stderr
    master, slave = pty.openpty()
    read: list[bytes] = []
    reader = threading.Thread(target=_read_all, args=(master, read))
    reader.start()
    try:
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=slave, cwd=cwd)
        os.close(slave)
        stdout, _ = process.communicate(timeout=CLI_TIMEOUT_S)
    finally:
        reader.join(timeout=CLI_TIMEOUT_S)
        os.close(master)
    stderr = b"".join(read).decode(errors="replace").replace("\r\n", "\n")
    return process.returncode, stdout.decode(), stderr


def _read_all(fd: int, into: list[bytes]) -> None:
    while True:
        try:
            data = os.read(fd, 65536)
        except OSError:  # EIO: the terminal's last writer closed it
            return
        if not data:
            return
        into.append(data)


def read_report_log(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def outcome_counts(entries: list[dict[str, Any]]) -> dict[str, int]:
    """What pytest's summary line counts, from pytest-reportlog's TestReport lines."""
    counts: Counter[str] = Counter()
    for entry in entries:
        if entry["$report_type"] != "TestReport":
            continue
        outcome, when = entry["outcome"], entry["when"]
        if "wasxfail" in entry:
            outcome = "xfailed" if outcome == "skipped" else "xpassed"
        if outcome == "passed" and when != "call":
            continue
        if outcome == "failed" and when != "call":
            outcome = "error"
        counts[outcome] += 1
    return dict(counts)


def test_report_log_has_pytests_own_counts(events_server: RunningServer, tmp_path: Path) -> None:
    log = tmp_path / "report.jsonl"
    code, stdout, _ = cli(events_server, "--report-log", str(log), "-e", "py")
    assert code == 1  # the sample has failures
    entries = read_report_log(log)
    kinds = [entry["$report_type"] for entry in entries]
    assert (kinds[0], kinds[-1]) == ("SessionStart", "SessionFinish")
    assert [outcome_counts(entries)] == summary_counts(stdout)
    assert entries[-1]["exitstatus"] == 1
    nodeids = {entry["nodeid"] for entry in entries if kinds and entry.get("nodeid")}
    assert any(nodeid.startswith("tests/test_outcomes.py::") for nodeid in nodeids)


def test_report_log_paths_are_the_local_projects(
    events_server: RunningServer, tmp_path: Path
) -> None:
    checkout = tmp_path / "checkout"  # the project as the client has it
    checkout.mkdir()
    endpoint = events_server.endpoint
    (checkout / "pyproject.toml").write_text(f'[tool.toxbridge]\nendpoint = "{endpoint}"\n')
    log = tmp_path / "report.jsonl"
    cli(events_server, "--report-log", str(log), "-e", "py", cwd=checkout)
    text = log.read_text()
    assert str(events_server.root) not in text
    paths = [e["location"][0] for e in read_report_log(log) if e.get("location")]
    assert paths
    crashes = [
        e["longrepr"]["reprcrash"]["path"]
        for e in read_report_log(log)
        if isinstance(e.get("longrepr"), dict) and e["longrepr"].get("reprcrash")
    ]
    assert crashes
    assert all(path.startswith(f"{checkout}/") for path in crashes)


def test_summary_on_a_terminal_names_failures_and_counts(events_server: RunningServer) -> None:
    code, stdout, stderr = cli(events_server, "-e", "py", tty_stderr=True)
    assert code == 1
    (counts,) = summary_counts(stdout)
    (line,) = [line for line in stderr.splitlines() if line.startswith("py: ")
               and " in " in line and "passed" in line]  # fmt: skip
    for word, n in counts.items():
        assert f"{n} {word}" in line
    failures = [line for line in stderr.splitlines() if line.endswith("]") and "[py|" in line]
    assert len(failures) == counts.get("failed", 0) + counts.get("error", 0)
    assert any(line.startswith("tests/test_outcomes.py:") for line in failures)


def test_no_summary_and_no_terminal_leave_stderr_as_tox_wrote_it(
    events_server: RunningServer,
) -> None:
    _, _, quiet = cli(events_server, "--no-summary", "-e", "py", tty_stderr=True)
    _, _, piped = cli(events_server, "-e", "py")
    for stderr in (quiet, piped):
        assert not [line for line in stderr.splitlines() if "[py|" in line]


@pytest.fixture(scope="module")
def plain_server(sample: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    log = tmp_path_factory.mktemp("server") / "server.log"
    yield from serve_sample(sample, log, "--no-test-events")


def test_a_run_without_events_falls_back_silently(
    plain_server: RunningServer, tmp_path: Path
) -> None:
    log = tmp_path / "report.jsonl"
    code, _, stderr = cli(plain_server, "--report-log", str(log), "-e", "py", tty_stderr=True)
    assert code == 1
    assert log.read_text() == ""
    assert "[py|" not in stderr
    assert not [
        line for line in stderr.splitlines() if line.startswith("py: ") and "passed" in line
    ]
