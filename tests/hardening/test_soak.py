"""A fast soak: 40 back-to-back CLI runs against one server (benchmarks/ does 500).

Some are cancelled (SIGINT to the client, or `toxbridge cancel`), some lose their client
to SIGKILL mid-run. Every exit status must be right, no process of any run may be left,
and the server's open fds and RSS must grow by less than 5 %.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import start_server
from tests.hardening.soak import SERVER_OPTIONS, Soak

RUNS = 40


@pytest.mark.timeout(240)
def test_soak_runs_leave_nothing_behind(project: Path, tmp_path: Path) -> None:
    server = start_server(project, tmp_path / "server.log", *SERVER_OPTIONS)
    try:
        report = Soak(server).run(RUNS)
        assert server.process.poll() is None, "the server died"
    finally:
        server.stop()
    print(report.runs, report.start, report.end)
    assert report.failures == []
    assert sum(report.runs.values()) == RUNS
    assert report.runs["killed"] == report.runs["cancel-sigint"] + report.runs["cancel-cli"] == 4
    fd_growth, rss_growth = report.growth()
    assert fd_growth < 0.05, (report.start, report.end)
    assert rss_growth < 0.05, (report.start, report.end)
    assert report.leftovers() == frozenset()
