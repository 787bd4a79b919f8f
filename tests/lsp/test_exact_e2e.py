"""Diagnostics and `tox/testResults` from exact test events, through the real bridge, a
real server and real tox: where they land, what a partial run clears, and two runs of
different envs that overlap."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from tests.conftest import RunningServer, start_server
from tests.lsp.conftest import (
    ALWAYS_LINE,
    EARLY_FAIL_LINE,
    LATE_FAIL_LINE,
    TOGGLE_LINE,
    Bridge,
    release_fifo,
    start_bridge,
    stop_bridge,
)

pytestmark = pytest.mark.timeout(90)


async def test_exact_diagnostics_and_results(bridge: Bridge) -> None:
    result = await bridge.request("tox/run", {"args": ["-e", "early"]})
    assert (result.exitCode, result.diagnostics) == (1, 1)

    [diagnostic] = bridge.client.diagnostics[bridge.uri("test_early.py")]
    assert diagnostic.range.start.line == EARLY_FAIL_LINE - 1
    assert diagnostic.message == "[early] AssertionError: early failure"
    assert (diagnostic.code, diagnostic.source) == ("test_early.py::test_fails_early", "pytest")
    [related] = diagnostic.related_information or []
    assert related.location.range.start.line == 4

    results = bridge.results()
    passed = results["early|test_early.py::test_passes"]
    failed = results["early|test_early.py::test_fails_early"]
    assert passed.state == "passed"
    assert failed.state == "failed"
    assert failed.message == "AssertionError: early failure"
    assert failed.location.uri == bridge.uri("test_early.py")
    assert failed.location.range.start.line == EARLY_FAIL_LINE - 1
    assert (failed.expected, failed.actual) == ("2", "1")
    assert failed.durationMs >= 0
    assert "early failure" in failed.text
    assert {batch.runId for batch in bridge.recorder.results} == {bridge.recorder.runs[0].runId}
    started, ended = bridge.recorder.runs
    assert (started.state, started.origin, started.env, started.args) == (
        "started", "run", "early", ["-e", "early"],
    )  # fmt: skip
    assert (ended.state, ended.exitCode, ended.cancelled) == ("ended", 1, False)
    # progress counted the tests from the events
    [reports] = bridge.client.progress_reports.values()
    messages = [getattr(item, "message", None) or "" for item in reports]
    assert any("1 passed, 1 failed" in message for message in messages), messages


async def test_a_partial_run_clears_only_what_it_ran(vscode_bridge: Bridge) -> None:
    bridge = vscode_bridge
    uri = bridge.uri("test_toggle.py")
    fail = {"TOXBRIDGE_USER_MODE": "fail"}
    result = await bridge.request("tox/run", {"args": ["-e", "toggle"], "env": fail})
    assert result.diagnostics == 2
    lines = sorted(d.range.start.line for d in bridge.client.diagnostics[uri])
    assert lines == [TOGGLE_LINE - 1, ALWAYS_LINE - 1]

    # Only test_toggles runs, and passes: its diagnostic goes, the other one stays.
    args = ["-e", "toggle", "--", "test_toggle.py", "-k", "test_toggles"]
    result = await bridge.request("tox/run", {"args": args})
    assert (result.exitCode, result.diagnostics) == (0, 0)
    [left] = bridge.client.diagnostics[uri]
    assert (left.code, left.range.start.line) == (
        "test_toggle.py::test_always_fails",
        ALWAYS_LINE - 1,
    )

    # A whole run of another env touches neither.
    assert (await bridge.request("tox/run", {"args": ["-e", "ok"]})).exitCode == 0
    assert len(bridge.client.diagnostics[uri]) == 1


async def test_two_overlapping_runs_of_different_envs_keep_both(
    vscode_bridge: Bridge, tmp_path: Path
) -> None:
    bridge = vscode_bridge
    release = tmp_path / "release"
    os.mkfifo(release)
    late = asyncio.ensure_future(
        bridge.request(
            "tox/run", {"args": ["-e", "late"], "env": {"TOXBRIDGE_USER_RELEASE": str(release)}}
        )
    )
    await bridge.wait_run("started")
    early = asyncio.ensure_future(bridge.request("tox/run", {"args": ["-e", "early"]}))
    await bridge.wait_status("queued")  # the server runs one tox at a time
    await asyncio.to_thread(release_fifo, release)
    late_result, early_result = await asyncio.gather(late, early)
    assert (late_result.diagnostics, early_result.diagnostics) == (1, 1)
    [late_diagnostic] = bridge.client.diagnostics[bridge.uri("test_late.py")]
    assert late_diagnostic.range.start.line == LATE_FAIL_LINE - 1
    [early_diagnostic] = bridge.client.diagnostics[bridge.uri("test_early.py")]
    assert early_diagnostic.range.start.line == EARLY_FAIL_LINE - 1
    runs = [(r.env, r.state) for r in bridge.recorder.runs]
    assert runs == [
        ("late", "started"),
        ("late", "ended"),
        ("early", "started"),
        ("early", "ended"),
    ]


async def test_without_test_events_the_text_parser_gives_them(
    lsp_project: Path, tmp_path: Path
) -> None:
    server: RunningServer = start_server(lsp_project, tmp_path / "server.log", "--no-test-events")
    bridge = await start_bridge(lsp_project, {"endpoint": server.endpoint})
    try:
        result = await bridge.request("tox/run", {"args": ["-e", "early"]})
        assert (result.exitCode, result.diagnostics) == (1, 1)
        [diagnostic] = bridge.client.diagnostics[bridge.uri("test_early.py")]
        assert diagnostic.range.start.line == EARLY_FAIL_LINE - 1
        assert "early failure" in diagnostic.message
        assert bridge.recorder.results == []
        assert [r.state for r in bridge.recorder.runs] == ["started", "ended"]
    finally:
        await stop_bridge(bridge)
        server.stop()
