"""The bridge watches the server: a real `toxbridge run` in a "terminal" (a subprocess)
while the real bridge runs puts its failures in the editor."""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import RunningServer, toxbridge
from tests.lsp.conftest import ALWAYS_LINE, EARLY_FAIL_LINE, Bridge, start_bridge, stop_bridge

pytestmark = pytest.mark.timeout(90)


async def terminal_run(server: RunningServer, *args: str) -> int:
    """`toxbridge run` as a user types it, output to nowhere (so: no summary, no events
    unless `--report-log`)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOXBRIDGE_")}
    process = await asyncio.create_subprocess_exec(
        *toxbridge("run", *server.client_args(), *args),
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    return await process.wait()


async def test_a_terminal_run_with_events_reaches_the_editor(
    vscode_bridge: Bridge, tox_server: RunningServer, tmp_path: Path
) -> None:
    bridge = vscode_bridge
    await bridge.wait_watching()
    report = tmp_path / "report.jsonl"
    assert await terminal_run(tox_server, "--report-log", str(report), "-e", "early") == 1

    [diagnostic] = await bridge.wait_diagnostics(bridge.uri("test_early.py"))
    assert diagnostic.range.start.line == EARLY_FAIL_LINE - 1
    assert diagnostic.message == "[early] AssertionError: early failure"
    ended = await bridge.wait_run("ended", origin="watch")
    started = await bridge.wait_run("started", origin="watch")
    assert (started.env, started.args) == ("early", ["-e", "early"])
    assert (ended.runId, ended.exitCode, ended.cancelled) == (started.runId, 1, False)
    results = bridge.results(started.runId)
    assert results["early|test_early.py::test_fails_early"].state == "failed"
    assert results["early|test_early.py::test_passes"].state == "passed"


async def test_a_terminal_run_in_a_pipeline_reaches_the_editor_with_exact_results(
    vscode_bridge: Bridge, tox_server: RunningServer
) -> None:
    """Its client asks no events (stderr is no terminal, no --report-log), but the bridge
    watches, so the server gives the run events for it: each test's state, the passing
    one's too, which the terminal text does not name."""
    bridge = vscode_bridge
    await bridge.wait_watching()
    assert await terminal_run(tox_server, "-e", "toggle") == 1
    [diagnostic] = await bridge.wait_diagnostics(bridge.uri("test_toggle.py"))
    assert diagnostic.range.start.line == ALWAYS_LINE - 1
    ended = await bridge.wait_run("ended", origin="watch")
    assert ended.exitCode == 1
    results = bridge.results(ended.runId)
    assert results["toggle|test_toggle.py::test_always_fails"].state == "failed"
    assert results["toggle|test_toggle.py::test_toggles"].state == "passed"


async def test_the_bridges_own_runs_are_not_watched_twice(
    vscode_bridge: Bridge, tox_server: RunningServer
) -> None:
    bridge = vscode_bridge
    await bridge.wait_watching()
    await bridge.request("tox/run", {"args": ["-e", "ok"]})
    await bridge.request("tox/discover", {"env": "ok"})
    # A terminal run after them is watched; the watch is in order, so anything it had to
    # say about the bridge's own runs would have come before.
    assert await terminal_run(tox_server, "-e", "ok") == 0
    await bridge.wait_run("ended", origin="watch")
    assert [r.origin for r in bridge.recorder.runs] == ["run", "run", "watch", "watch"]


async def test_watch_off(tox_server: RunningServer, lsp_project: Path) -> None:
    bridge = await start_bridge(lsp_project, {"endpoint": tox_server.endpoint, "watch": False})
    try:
        assert await terminal_run(tox_server, "-e", "ok") == 0
        result = await bridge.request("tox/run", {"args": ["-e", "ok"]})
        assert result.exitCode == 0
        assert [r.origin for r in bridge.recorder.runs] == ["run", "run"]
        assert bridge.recorder.watch == []
    finally:
        await stop_bridge(bridge)
