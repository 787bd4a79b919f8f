"""The real `toxbridge lsp` against a real `toxbridge serve` running real tox."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from lsprotocol import types

from tests.lsp.conftest import (
    EARLY_FAIL_LINE,
    LATE_DEF_LINE,
    LATE_FAIL_LINE,
    Bridge,
    release_fifo,
)


async def test_run_reports_progress_output_status_and_diagnostics(bridge: Bridge) -> None:
    result = await bridge.request("tox/run", {"args": ["-e", "early"]})

    assert (result.exitCode, result.cancelled, result.diagnostics) == (1, False, 1)
    [reports] = bridge.client.progress_reports.values()
    begin, *middle, end = reports
    assert isinstance(begin, types.WorkDoneProgressBegin)
    assert (begin.title, begin.cancellable) == ("tox -e early", True)
    assert any(isinstance(item, types.WorkDoneProgressReport) for item in middle)
    assert isinstance(end, types.WorkDoneProgressEnd)
    assert "exit code 1" in (end.message or "")

    [diagnostic] = bridge.client.diagnostics[bridge.uri("test_early.py")]
    assert diagnostic.range.start.line == EARLY_FAIL_LINE - 1
    assert diagnostic.source == "pytest"
    assert diagnostic.code == "test_early.py::test_fails_early"
    assert "early failure" in diagnostic.message
    [related] = diagnostic.related_information
    assert related.location.uri == bridge.uri("test_early.py")
    assert related.location.range.start.line == 4  # `def test_fails_early():`

    assert "early failure" in bridge.recorder.text()
    states = [item.state for item in bridge.recorder.status]
    assert states[0] == "idle"
    assert states[-2:] == ["running", "finished"]
    assert bridge.recorder.status[-1].exitCode == 1


@pytest.mark.timeout(60)
async def test_diagnostics_are_live_and_other_envs_keep_theirs(
    bridge: Bridge, tmp_path: Path
) -> None:
    release = tmp_path / "release"
    os.mkfifo(release)
    running = asyncio.ensure_future(
        bridge.request(
            "tox/run",
            {"args": ["-e", "early,late"], "env": {"TOXBRIDGE_USER_RELEASE": str(release)}},
        )
    )
    # The early env's failure is published while the late env still waits.
    early = await bridge.wait_diagnostics(bridge.uri("test_early.py"))
    assert not running.done()
    assert early[0].range.start.line == EARLY_FAIL_LINE - 1
    await asyncio.to_thread(release_fifo, release)
    result = await running
    assert result.diagnostics == 2
    [late] = bridge.client.diagnostics[bridge.uri("test_late.py")]
    assert late.range.start.line == LATE_FAIL_LINE - 1
    assert (late.related_information or [])[0].location.range.start.line == LATE_DEF_LINE - 1

    # test_ok passes: a run of another env leaves these envs' diagnostics alone (issue 10,
    # item 9); a test loses its diagnostic when it runs again and passes (test_exact_e2e).
    result = await bridge.request("tox/run", {"args": ["-e", "ok"]})
    assert (result.exitCode, result.diagnostics) == (0, 0)
    assert bridge.client.diagnostics[bridge.uri("test_early.py")]
    assert bridge.client.diagnostics[bridge.uri("test_late.py")]
