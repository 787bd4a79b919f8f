"""Settings, path mapping, run-on-save and errors, through the real bridge."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from tests.conftest import RunningServer, free_port, start_server
from tests.lsp.conftest import (
    EARLY_FAIL_LINE,
    NEVER_RELEASED,
    Bridge,
    release_fifo,
    start_bridge,
    stop_bridge,
)


@pytest.mark.timeout(60)
async def test_unreachable_server_fails_clearly_then_reconnects(
    lsp_project: Path, tmp_path: Path
) -> None:
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    bridge = await start_bridge(lsp_project, {"endpoint": endpoint, "timeoutS": 0.5})
    try:
        with pytest.raises(JsonRpcException) as failure:
            await bridge.request("tox/run", {"args": ["-e", "ok"]})
        assert "toxbridge serve" in str(failure.value)
        [shown] = bridge.client.messages
        assert shown.type == types.MessageType.Error
        assert "toxbridge serve" in shown.message
        assert (await bridge.request("tox/ping", {})).connected is False
        [end] = [r for reports in bridge.client.progress_reports.values() for r in reports][-1:]
        assert isinstance(end, types.WorkDoneProgressEnd)

        server = start_server(lsp_project, tmp_path / "late-server.log", endpoint=endpoint)
        try:
            result = await bridge.request("tox/run", {"args": ["-e", "ok"]})
            assert result.exitCode == 0
        finally:
            server.stop()
    finally:
        await stop_bridge(bridge)


@pytest.mark.timeout(60)
async def test_an_unreachable_server_is_shown_once_while_it_stays_down(
    lsp_project: Path, tmp_path: Path
) -> None:
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    bridge = await start_bridge(lsp_project, {"endpoint": endpoint, "timeoutS": 0.5})
    try:
        for method, params in [("tox/run", {"args": ["-e", "ok"]}), ("tox/envs", {})] * 2:
            with pytest.raises(JsonRpcException, match="toxbridge serve"):
                await bridge.request(method, params)  # each request still fails clearly
        assert len(bridge.client.messages) == 1  # but the editor is told once

        server = start_server(lsp_project, tmp_path / "server.log", endpoint=endpoint)
        try:
            assert (await bridge.request("tox/run", {"args": ["-e", "ok"]})).exitCode == 0
        finally:
            server.stop()
        with pytest.raises(JsonRpcException, match="toxbridge serve"):
            await bridge.request("tox/envs", {})
        assert len(bridge.client.messages) == 2  # down again after it was up: news again
    finally:
        await stop_bridge(bridge)


@pytest.mark.parametrize("explicit", [False, True])
@pytest.mark.timeout(60)
async def test_paths_map_from_the_server_root_to_the_workspace(
    tox_server: RunningServer, lsp_project: Path, tmp_path: Path, explicit: bool
) -> None:
    workspace = tmp_path / "checkout"  # not where the server runs tox
    workspace.mkdir()
    options: dict[str, object] = {"endpoint": tox_server.endpoint}
    expected = workspace / "test_early.py"
    if explicit:
        options["pathMappings"] = [{"container": str(lsp_project), "local": "/src/app"}]
        expected = Path("/src/app/test_early.py")
    bridge = await start_bridge(workspace, options)
    try:
        result = await bridge.request("tox/run", {"args": ["-e", "early"]})
        assert result.diagnostics == 1
        [diagnostic] = bridge.client.diagnostics[expected.as_uri()]
        assert diagnostic.range.start.line == EARLY_FAIL_LINE - 1
    finally:
        await stop_bridge(bridge)


def save(bridge: Bridge, name: str) -> None:
    bridge.client.text_document_did_save(
        types.DidSaveTextDocumentParams(
            text_document=types.TextDocumentIdentifier(uri=bridge.uri(name))
        )
    )


@pytest.mark.timeout(60)
async def test_run_on_save_debounces_and_replaces_the_run_in_flight(
    tox_server: RunningServer, lsp_project: Path, tmp_path: Path
) -> None:
    release = tmp_path / "release"
    os.mkfifo(release)
    options = {
        "endpoint": tox_server.endpoint,
        "runOnSave": True,
        "debounceMs": 150,
        "runOnSaveArgs": ["-e", "late", "--", "-s"],
        "env": {"TOXBRIDGE_USER_RELEASE": str(release)},
    }
    bridge = await start_bridge(lsp_project, options)
    try:
        save(bridge, "README.md")  # not **/*.py: ignored
        for _ in range(5):  # a burst of saves: one run
            save(bridge, "test_early.py")
        first = await bridge.wait_status("running")
        await bridge.wait_output("WAITING PID")
        save(bridge, "sub/module.py")  # cancels the first run, starts another
        cancelled = await bridge.wait_status("finished")
        assert (cancelled.runId, cancelled.cancelled) == (first.runId, True)
        second = await bridge.wait_status("running", 2)
        await asyncio.to_thread(release_fifo, release)
        done = await bridge.wait_status("finished", 2)
        assert (done.runId, done.cancelled, done.exitCode) == (second.runId, False, 1)
        # Nothing else was pending: a ping shows an idle server.
        assert (await bridge.request("tox/ping", {})).running == []
        assert [s.state for s in bridge.recorder.status].count("running") == 2
    finally:
        await stop_bridge(bridge)


@pytest.mark.timeout(30)
async def test_pyproject_settings_sit_below_the_editor(
    tox_server: RunningServer, tmp_path: Path
) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "pyproject.toml").write_text(
        f'[tool.toxbridge]\nendpoint = "{tox_server.endpoint}"\ntox-args = ["-e", "ok"]\n'
    )
    bridge = await start_bridge(workspace, {"timeoutS": 5})
    try:
        result = await bridge.request("tox/run", {})  # endpoint and args from pyproject
        assert (result.exitCode, result.diagnostics) == (0, 0)
        assert bridge.client.progress_reports
        [begin] = [r[0] for r in bridge.client.progress_reports.values()]
        assert isinstance(begin, types.WorkDoneProgressBegin)
        assert begin.title == "tox -e ok"
        bridge.client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(settings={"toxArgs": ["-e", "early"]})
        )
        result = await bridge.request("tox/run", {})
        assert result.exitCode == 1
    finally:
        await stop_bridge(bridge)


async def _frame(writer: asyncio.StreamWriter, body: bytes) -> None:
    writer.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
    await writer.drain()


async def _read(reader: asyncio.StreamReader) -> bytes:
    length = 0
    while (line := await reader.readline()) != b"\r\n":
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return await reader.readexactly(length)


@pytest.mark.timeout(30)
async def test_malformed_input_gets_json_rpc_errors_and_the_bridge_survives() -> None:
    """A raw JSON-RPC peer: what no well-behaved editor sends."""
    import json
    import sys

    bridge = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "toxbridge",
        "lsp",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert bridge.stdin is not None
    assert bridge.stdout is not None
    try:
        await _frame(bridge.stdin, b'{"jsonrpc": "2.0", "id": 1, "method": ')
        parse_error = json.loads(await _read(bridge.stdout))
        assert (parse_error["id"], parse_error["error"]["code"]) == (None, -32700)
        requests = [
            {"jsonrpc": "2.0", "id": 2, "method": "tox/nope", "params": {}},
            {"jsonrpc": "2.0", "id": 3, "method": "tox/run", "params": {"args": 5}},
            {"jsonrpc": "2.0", "id": 4, "method": "shutdown"},
        ]
        for request in requests:
            await _frame(bridge.stdin, json.dumps(request).encode())
        answers: dict[int, dict[str, Any]] = {}
        while len(answers) < 3:
            message = json.loads(await _read(bridge.stdout))
            if "id" in message:
                answers[message["id"]] = message
        assert answers[2]["error"]["code"] == -32601
        assert answers[3]["error"]["code"] == -32602
        assert "args" in answers[3]["error"]["message"]
        assert "error" not in answers[4]
        await _frame(bridge.stdin, b'{"jsonrpc": "2.0", "method": "exit"}')
        assert await bridge.wait() == 0
    finally:
        if bridge.returncode is None:
            bridge.kill()
            await bridge.wait()


@pytest.mark.timeout(90)
async def test_server_restarted_mid_run_fails_the_request_then_reconnects(
    lsp_project: Path, tmp_path: Path
) -> None:
    first = start_server(lsp_project, tmp_path / "first.log")
    bridge = await start_bridge(lsp_project, {"endpoint": first.endpoint})
    second: RunningServer | None = None
    orphaned_group: int | None = None
    try:
        running = asyncio.ensure_future(
            bridge.request(
                "tox/run",
                {
                    "args": ["-e", "late", "--", "-s"],
                    "env": {"TOXBRIDGE_USER_RELEASE": NEVER_RELEASED},
                },
            )
        )
        waiting = await bridge.wait_output(r"WAITING PID (\d+)")
        # a SIGKILLed server cannot stop its run: the test cleans the tree up itself
        orphaned_group = os.getpgid(int(waiting.group(1)))
        first.process.kill()
        first.process.wait()
        second = start_server(lsp_project, tmp_path / "second.log", endpoint=first.endpoint)
        with pytest.raises(JsonRpcException) as failure:
            await running
        assert "restarted" in str(failure.value)
        assert any("restarted" in shown.message for shown in bridge.client.messages)
        pong = await bridge.request("tox/ping", {})  # the same bridge carries on
        assert pong.connected is True
        assert pong.running == []
    finally:
        await stop_bridge(bridge)
        first.stop()
        if second is not None:
            second.stop()
        if orphaned_group is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(orphaned_group, signal.SIGKILL)
