"""What clients can throw at a live server, and how the server and clients end."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import zmq
import zmq.asyncio

from tests.conftest import RunningServer, free_port, start_server, toxbridge
from tests.core.test_runs import collect, process_gone, read_until_ready, wait_for_ready
from toxbridge.config import parse_endpoint
from toxbridge.errors import ConnectionLost, ServerUnreachable
from toxbridge.net.client import Client
from toxbridge.wire import protocol


@pytest.fixture
async def raw(server: RunningServer) -> AsyncIterator[zmq.asyncio.Socket]:
    """A bare DEALER socket: sends whatever the test wants, protocol or not."""
    context = zmq.asyncio.Context.instance()
    socket = context.socket(zmq.DEALER)
    socket.setsockopt(zmq.LINGER, 0)
    socket.connect(server.endpoint)
    try:
        yield socket
    finally:
        socket.close()


async def exchange(socket: zmq.asyncio.Socket, frames: list[bytes]) -> protocol.Message:
    await socket.send_multipart(frames)
    async with asyncio.timeout(10):
        return protocol.decode(await socket.recv_multipart())


async def ping_works(socket: zmq.asyncio.Socket) -> bool:
    reply = await exchange(socket, protocol.encode(protocol.Ping("alive?")))
    return isinstance(reply, protocol.Pong) and reply.id == "alive?"


MALFORMED = [
    ([b"hello"], "bad-frame"),
    ([b""], "bad-frame"),
    ([b"TB2", b"{}"], "version"),
    ([protocol.MAGIC], "bad-frame"),
    ([protocol.MAGIC, b"not json"], "bad-json"),
    ([protocol.MAGIC, b'"a string"'], "bad-json"),
    ([protocol.MAGIC, b"[1, 2]"], "bad-json"),
    ([protocol.MAGIC, b'{"kind": "run"}'], "bad-args"),
    ([protocol.MAGIC, b'{"id": "x", "kind": "run", "args": "-e py"}'], "bad-args"),
    ([protocol.MAGIC, b'{"id": "x", "kind": "run", "args": [], "credit": -1}'], "bad-args"),
    ([protocol.MAGIC, b'{"id": "x", "kind": "rm -rf"}'], "unknown-kind"),
    (protocol.encode(protocol.Ack("x")), "unknown-kind"),  # a reply sent as a request
    ([protocol.MAGIC, b'{"id": "x", "kind": "credit", "n": 5}'], "unknown-run"),
    ([protocol.MAGIC, b'{"id": "x", "kind": "heartbeat"}'], "unknown-run"),
    ([protocol.MAGIC, b'{"id": "x", "kind": "ping"}', b"stray payload"], "bad-args"),
]


@pytest.mark.parametrize(("frames", "code"), MALFORMED)
async def test_malformed_request_gets_an_error_and_server_carries_on(
    raw: zmq.asyncio.Socket, frames: list[bytes], code: str
) -> None:
    reply = await exchange(raw, frames)
    assert isinstance(reply, protocol.Error)
    assert reply.code.value == code
    assert reply.message
    assert await ping_works(raw)


async def test_every_malformed_kind_in_a_row_then_a_real_run(
    raw: zmq.asyncio.Socket, server: RunningServer
) -> None:
    for frames, code in MALFORMED:
        reply = await exchange(raw, frames)
        assert isinstance(reply, protocol.Error)
        assert reply.code.value == code
    async with (
        Client(parse_endpoint(server.endpoint), timeout=10) as client,
        client.run(["-e", "exit", "--", "5"]) as remote,
    ):
        _, result = await collect(remote)
    assert result.code == 5


async def test_oversized_message_drops_only_that_connection(server: RunningServer) -> None:
    context = zmq.asyncio.Context.instance()
    flooder = context.socket(zmq.DEALER)
    flooder.setsockopt(zmq.LINGER, 0)
    flooder.connect(server.endpoint)
    try:
        await flooder.send_multipart([protocol.MAGIC, b" " * (2 << 20)])
        async with Client(parse_endpoint(server.endpoint), timeout=10) as client:
            pong, _ = await client.ping()
        assert pong.protocol == protocol.PROTOCOL_VERSION
    finally:
        flooder.close()


async def test_pipelined_requests_are_each_answered(raw: zmq.asyncio.Socket) -> None:
    for number in range(200):
        await raw.send_multipart(protocol.encode(protocol.Ping(f"p{number}")))
    seen: set[str] = set()
    async with asyncio.timeout(10):
        while len(seen) < 200:
            reply = protocol.decode(await raw.recv_multipart())
            assert isinstance(reply, protocol.Pong)
            seen.add(reply.id)
    assert seen == {f"p{number}" for number in range(200)}


async def test_req_socket_with_delimiter_frame_is_served(server: RunningServer) -> None:
    socket = zmq.asyncio.Context.instance().socket(zmq.REQ)
    socket.setsockopt(zmq.LINGER, 0)
    socket.connect(server.endpoint)
    try:
        reply = await exchange(socket, protocol.encode(protocol.Ping("via-req")))
    finally:
        socket.close()
    assert isinstance(reply, protocol.Pong)
    assert reply.id == "via-req"


async def test_ping_during_a_large_run_is_prompt(server: RunningServer) -> None:
    endpoint = parse_endpoint(server.endpoint)
    async with (
        Client(endpoint, timeout=10) as runner,
        Client(endpoint, timeout=10) as pinger,
        runner.run(["-qq", "-e", "big", "--", "30000000"]) as remote,
    ):
        received = 0
        rtts: list[float] = []
        async for event in remote:
            if isinstance(event, protocol.Output):
                received += len(event.data)
                if len(rtts) < 20 and received > len(rtts) * 1_000_000:
                    _, rtt = await pinger.ping()
                    rtts.append(rtt)
        assert remote.result is not None
        assert remote.result.code == 0
    assert received == 30_000_000
    assert len(rtts) == 20
    assert sorted(rtts)[10] < 0.5  # a generous bound; benchmarks/ measures the real figure


def test_unreachable_server_is_one_clear_line(tmp_path: Path) -> None:
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    started = time.monotonic()
    result = subprocess.run(
        toxbridge("ping", "--endpoint", endpoint, "--timeout", "1"),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == ServerUnreachable.exit_code
    assert result.stderr.count("\n") == 1
    assert endpoint in result.stderr
    assert "toxbridge serve" in result.stderr
    assert time.monotonic() - started < 10
    run = subprocess.run(
        toxbridge("run", "--endpoint", endpoint, "--timeout", "1", "-e", "py"),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert run.returncode == ServerUnreachable.exit_code
    assert endpoint in run.stderr


def test_public_bind_without_keys_is_refused(project: Path) -> None:
    result = subprocess.run(
        toxbridge("serve", "--endpoint", f"tcp://0.0.0.0:{free_port()}", "--root", str(project)),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode != 0
    assert "--insecure" in result.stderr
    assert "Traceback" not in result.stderr


async def test_quit_lets_the_running_run_finish(server: RunningServer) -> None:
    async with (
        Client(parse_endpoint(server.endpoint), timeout=10) as client,
        client.run(["-e", "echo", "--", "finishing"]) as remote,
    ):
        await client.quit()
        output, result = await collect(remote)
    assert result.code == 0
    assert not result.cancelled
    assert b"echo finishing" in output
    assert await asyncio.to_thread(server.process.wait, 30) == 0


async def test_quit_now_cancels_the_running_run(server: RunningServer) -> None:
    async with (
        Client(parse_endpoint(server.endpoint), timeout=10) as client,
        client.run(["-e", "tree"]) as remote,
    ):
        pids = await read_until_ready(remote)
        await client.quit(now=True)
        _, result = await collect(remote)
    assert result.cancelled
    assert await asyncio.to_thread(server.process.wait, 30) == 0
    assert all(process_gone(pid) for pid in pids)


async def test_sigterm_cancels_runs_and_exits_zero(server: RunningServer) -> None:
    async with (
        Client(parse_endpoint(server.endpoint), timeout=10) as client,
        client.run(["-e", "tree"]) as remote,
    ):
        pids = await read_until_ready(remote)
        server.process.send_signal(signal.SIGTERM)
        _, result = await collect(remote)
    assert result.cancelled
    assert await asyncio.to_thread(server.process.wait, 30) == 0
    assert all(process_gone(pid) for pid in pids)


async def test_server_restart_mid_run_is_reported(project: Path, tmp_path: Path) -> None:
    first = start_server(project, tmp_path / "first.log")
    second: RunningServer | None = None
    orphaned_group: int | None = None
    try:
        async with (
            Client(parse_endpoint(first.endpoint), timeout=10, liveness_s=20) as client,
            client.run(["-e", "tree"]) as remote,
        ):
            await read_until_ready(remote)
            assert remote.started is not None
            # a SIGKILLed server cannot stop its run: this test cleans the tree up itself
            orphaned_group = remote.started.pid
            first.process.kill()
            first.process.wait()
            second = start_server(project, tmp_path / "second.log", endpoint=first.endpoint)
            started = time.monotonic()
            with pytest.raises(ConnectionLost, match="restarted"):
                await collect(remote)
            assert time.monotonic() - started < 20
            pong, _ = await client.ping()  # the same client carries on with the new server
            assert pong.running == ()
    finally:
        first.stop()
        if second is not None:
            second.stop()
        if orphaned_group is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(orphaned_group, signal.SIGKILL)


async def test_silent_server_is_reported_within_liveness(project: Path, tmp_path: Path) -> None:
    server = start_server(project, tmp_path / "server.log")
    try:
        async with (
            Client(parse_endpoint(server.endpoint), timeout=10, liveness_s=2) as client,
            client.run(["-e", "tree"]) as remote,
        ):
            await read_until_ready(remote)
            server.process.send_signal(signal.SIGSTOP)
            with pytest.raises(ConnectionLost, match="stopped answering"):
                await collect(remote)
    finally:
        server.process.send_signal(signal.SIGCONT)
        server.stop()


def test_ipc_endpoint(project: Path, tmp_path: Path) -> None:
    server = start_server(project, tmp_path / "server.log", endpoint=f"ipc://{tmp_path}/tb.sock")
    try:
        result = subprocess.run(
            toxbridge("run", *server.client_args(), "-e", "exit", "--", "4"), timeout=60
        )
        assert result.returncode == 4
    finally:
        server.stop()


def test_serve_says_in_one_line_where_it_listens_and_removes_its_socket_file(
    project: Path, tmp_path: Path
) -> None:
    socket_file = tmp_path / "one.sock"
    endpoint = f"ipc://{socket_file}"
    serve = toxbridge("serve", "--endpoint", endpoint, "--root", str(project))  # default level
    with subprocess.Popen(serve, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) as process:
        assert process.stderr is not None
        line = process.stderr.readline().decode()
        assert socket_file.exists()
        subprocess.run(toxbridge("quit", "--endpoint", endpoint), check=True, timeout=30)
        rest = process.stderr.read()
        assert process.wait(timeout=30) == 0
    expected = f"toxbridge serve: listening on {endpoint} (no keys), tox root {project}, warm tox"
    assert line == expected + "\n"
    assert rest == b""  # that one line is all it says at the default log level
    assert not socket_file.exists()


def test_local_mode_runs_without_a_separate_server(project: Path) -> None:
    result = subprocess.run(
        toxbridge("run", "--local", "-e", "echo", "--", "local"),
        cwd=project,
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert b"echo local" in result.stdout


def test_server_reports_its_state_as_json(server: RunningServer) -> None:
    result = subprocess.run(
        toxbridge("ping", "--json", *server.client_args()),
        capture_output=True,
        text=True,
        timeout=30,
    )
    state = json.loads(result.stdout)
    assert state["protocol"] == protocol.PROTOCOL_VERSION
    assert state["running"] == []
    assert state["queued"] == 0
    assert state["rtt_ms"] > 0


def test_cli_cancel_cancels_another_clients_run(server: RunningServer) -> None:
    with subprocess.Popen(
        toxbridge("run", *server.client_args(), "-e", "tree"),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    ) as runner:
        assert runner.stdout is not None
        wait_for_ready(runner.stdout)
        cancel = subprocess.run(
            toxbridge("cancel", *server.client_args()), capture_output=True, text=True, timeout=30
        )
        assert cancel.stdout.startswith("cancelled: ")
        runner.stdout.read()
        assert runner.wait(timeout=30) not in (0, 130)


async def test_a_bug_inside_a_run_is_reported_and_the_server_carries_on(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from toxbridge.config import Endpoint
    from toxbridge.errors import RemoteError
    from toxbridge.server import execute
    from toxbridge.server.app import Server, ServerSettings

    async def broken_relay(*args: object) -> None:
        raise RuntimeError("a simulated bug in the relay")

    monkeypatch.setattr(execute, "_relay", broken_relay)
    endpoint = Endpoint(f"ipc://{tmp_path}/bug.sock")
    settings = execute.RunSettings(root=str(project), tox_command=(sys.executable, "-m", "tox"))
    server = Server(ServerSettings(endpoint, settings))
    serving = asyncio.create_task(server.serve())
    try:
        await server.bound.wait()
        async with Client(endpoint, timeout=10) as client:
            with pytest.raises(RemoteError, match="internal error"):
                async with client.run(["-e", "tree"]) as remote:
                    await collect(remote)
            pong, _ = await client.ping()
            assert pong.running == ()
    finally:
        server.stop(now=True)
        await serving
