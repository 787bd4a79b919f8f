"""Cancelling through the bridge stops tox's whole process tree on the server."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcRequestCancelled

from tests.lsp.conftest import NEVER_RELEASED, Bridge

WAIT_FOREVER = {"TOXBRIDGE_USER_RELEASE": NEVER_RELEASED}  # relative to the tox root


async def wait_gone(pid: int) -> None:
    """Wait on the kernel's exit event for `pid` (a zombie counts as gone)."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    loop = asyncio.get_running_loop()
    exited: asyncio.Future[None] = loop.create_future()
    loop.add_reader(fd, lambda: None if exited.done() else exited.set_result(None))
    try:
        async with asyncio.timeout(10):
            await exited
    finally:
        loop.remove_reader(fd)
        os.close(fd)


async def start_waiting_run(bridge: Bridge, msg_id: str) -> tuple[asyncio.Future[Any], int]:
    send = bridge.client.protocol.send_request_async
    params = {"args": ["-e", "late", "--", "-s"], "env": WAIT_FOREVER}
    # pytest-lsp leaves send_request_async unannotated
    request = send("tox/run", params, msg_id=msg_id)  # type: ignore[no-untyped-call]
    running = asyncio.ensure_future(request)
    match = await bridge.wait_output(r"WAITING PID (\d+)")
    return running, int(match.group(1))


@pytest.mark.timeout(60)
async def test_cancel_request_stops_the_remote_tree(bridge: Bridge) -> None:
    running, pid = await start_waiting_run(bridge, "run-to-cancel")
    bridge.client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id="run-to-cancel"))
    with pytest.raises(JsonRpcRequestCancelled):
        await running
    await wait_gone(pid)
    finished = await bridge.wait_status("finished")
    assert finished.cancelled is True
    [reports] = bridge.client.progress_reports.values()
    assert isinstance(reports[-1], types.WorkDoneProgressEnd)


@pytest.mark.timeout(60)
async def test_progress_cancel_ends_the_run_as_cancelled(vscode_bridge: Bridge) -> None:
    bridge = vscode_bridge
    running, pid = await start_waiting_run(bridge, "run-progress")
    [token] = bridge.client.progress_reports
    bridge.client.protocol.notify(
        types.WINDOW_WORK_DONE_PROGRESS_CANCEL, types.WorkDoneProgressCancelParams(token=token)
    )
    result = await running
    assert result.cancelled is True
    await wait_gone(pid)
    end = bridge.client.progress_reports[token][-1]
    assert isinstance(end, types.WorkDoneProgressEnd)
    assert "cancelled" in (end.message or "")


@pytest.mark.timeout(60)
async def test_tox_cancel_and_the_client_token(vscode_bridge: Bridge) -> None:
    bridge = vscode_bridge
    bridge.client.progress_reports["mine"] = []  # a token the editor made itself
    running = asyncio.ensure_future(
        bridge.request(
            "tox/run",
            {"args": ["-e", "late", "--", "-s"], "env": WAIT_FOREVER, "workDoneToken": "mine"},
        )
    )
    pid = int((await bridge.wait_output(r"WAITING PID (\d+)")).group(1))
    cancelled = await bridge.request("tox/cancel", {})
    assert len(cancelled.cancelled) == 1
    assert (await running).cancelled is True
    await wait_gone(pid)
    begin = bridge.client.progress_reports["mine"][0]
    assert isinstance(begin, types.WorkDoneProgressBegin)
    assert begin.title == "tox -e late -- -s"


@pytest.mark.timeout(60)
async def test_commands_run_ping_and_envs(vscode_bridge: Bridge) -> None:
    client = vscode_bridge.client
    result: Any = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="toxbridge.run", arguments=["-e", "ok"])
    )
    assert (result["exitCode"], result["cancelled"]) == (0, False)
    result = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(
            command="toxbridge.run",
            arguments=[{"args": ["-e", "early"], "env": {"TOXBRIDGE_USER_X": "1"}}],
        )
    )
    assert (result["exitCode"], result["diagnostics"]) == (1, 1)
    envs: Any = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="toxbridge.envs")
    )
    assert envs["envs"] == ["early", "late", "ok", "toggle", "broken"]
    pong: Any = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="toxbridge.ping")
    )
    assert pong["connected"] is True
    assert pong["rttMs"] > 0
    assert (await vscode_bridge.request("tox/envs", {})).envs == [
        "early",
        "late",
        "ok",
        "toggle",
        "broken",
    ]
