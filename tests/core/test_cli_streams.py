"""`toxbridge run` against what a terminal user does to it: slow readers, readers that leave,
^Z, a server that dies holding output, and a server with a short liveness.

Each test runs the real CLI against a real `toxbridge serve` and real tox, with real pipes.
Where the claim is about time (a reader that pauses past the liveness, a client stopped
longer than it), the pause is the stimulus, stated as such; nothing waits on a sleep to
learn that something happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import HELPERS, RunningServer, start_server, toxbridge
from tests.core.test_runs import collect, process_gone, wait_exited, wait_for_ready
from toxbridge.config import parse_endpoint
from toxbridge.errors import ConnectionLost
from toxbridge.net.client import Client
from toxbridge.wire import protocol

SIGPIPE_STATUS = 128 + signal.SIGPIPE


@pytest.fixture
def make_server(project: Path, tmp_path: Path) -> Iterator[list[RunningServer]]:
    """Start servers with extra options; each is stopped at the end."""
    started: list[RunningServer] = []
    yield started
    for server in started:
        server.stop()


def serve(
    started: list[RunningServer], project: Path, tmp_path: Path, *extra: str
) -> RunningServer:
    server = start_server(project, tmp_path / f"server{len(started)}.log", *extra)
    started.append(server)
    return server


def big_stream(size: int) -> bytes:
    return subprocess.run(
        [sys.executable, str(HELPERS / "big.py"), str(size)], capture_output=True, check=True
    ).stdout


def cli(server: RunningServer, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        toxbridge("run", *server.client_args(), *args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


# -- 1. a slow reader ------------------------------------------------------------------


def test_a_reader_that_pauses_past_the_liveness_gets_everything(
    make_server: list[RunningServer], project: Path, tmp_path: Path
) -> None:
    server = serve(make_server, project, tmp_path, "--liveness", "2")
    size = 20_000_000
    with cli(server, "-qq", "-e", "big", "--", str(size)) as client:
        assert client.stdout is not None
        first = os.read(client.stdout.fileno(), 1)  # output flows: the run has started
        time.sleep(5)  # the stimulus: a reader (a pager, ^S) that pauses past the liveness
        rest, stderr = client.communicate(timeout=120)
    assert client.returncode == 0, stderr
    received = first + rest
    assert len(received) == size
    assert hashlib.sha256(received).digest() == hashlib.sha256(big_stream(size)).digest()
    assert "client silent" not in server.log.read_text()


# -- 2. a reader that leaves -------------------------------------------------------------


def test_a_reader_that_leaves_a_quiet_run_cancels_it_at_once(
    make_server: list[RunningServer], project: Path, tmp_path: Path
) -> None:
    server = serve(make_server, project, tmp_path, "--liveness", "60")
    with cli(server, "-e", "tree") as client:
        assert client.stdout is not None
        pids = wait_for_ready(client.stdout)
        client.stdout.close()  # `| head -1` has its line and exits; tox prints nothing more
        assert client.wait(timeout=30) == SIGPIPE_STATUS
        assert client.stderr is not None
        stderr = client.stderr.read()
    assert b"Traceback" not in stderr
    asyncio.run(asyncio.wait_for(_all_exit(pids), timeout=30))  # long before the liveness
    log = server.log.read_text()
    assert "cancel " in log
    assert "client silent" not in log


def test_a_reader_that_leaves_a_busy_run_gets_no_traceback(
    make_server: list[RunningServer], project: Path, tmp_path: Path
) -> None:
    server = serve(make_server, project, tmp_path, "--liveness", "60")
    with cli(server, "-qq", "-e", "big", "--", "500000000") as client:
        assert client.stdout is not None
        assert len(client.stdout.read(100)) == 100
        [tox_pid] = [run["pid"] for run in asyncio.run(_ping(server)).running]
        client.stdout.close()
        assert client.wait(timeout=30) == SIGPIPE_STATUS
        assert client.stderr is not None
        stderr = client.stderr.read()
    assert b"Traceback" not in stderr
    asyncio.run(asyncio.wait_for(wait_exited(tox_pid), timeout=30))  # long before the liveness
    assert "client silent" not in server.log.read_text()


async def _all_exit(pids: list[int]) -> None:
    for pid in pids:
        await wait_exited(pid)


# -- 3. a server that dies while the client holds output ---------------------------------


def test_a_dead_server_with_unread_output_ends_the_client_within_its_liveness(
    make_server: list[RunningServer], project: Path, tmp_path: Path
) -> None:
    server = serve(make_server, project, tmp_path)
    liveness = 3.0
    size = 200_000_000
    argv = ["--liveness", str(liveness), "-qq", "-e", "big", "--", str(size)]
    tox_group: int | None = None
    try:
        with cli(server, *argv) as client:
            assert client.stdout is not None
            first = b""
            while len(first) < 20_000_000:  # into the bulk of the stream: large messages
                first += os.read(client.stdout.fileno(), 1 << 20)
            # we stop reading; once the server has spent the credit, the client holds
            # megabytes of output that nobody has read yet
            tox_group = asyncio.run(asyncio.wait_for(_credit_spent(server), timeout=60))
            server.process.kill()
            server.process.wait()
            killed = time.monotonic()
            rest, stderr = client.communicate(timeout=60)
            waited = time.monotonic() - killed
    finally:
        if tox_group is not None:  # a SIGKILLed server cannot stop its run itself
            with contextlib.suppress(ProcessLookupError):
                os.killpg(tox_group, signal.SIGKILL)
    assert client.returncode == ConnectionLost.exit_code, stderr
    received = first + rest
    assert len(received) > 1
    assert _prefix_of_big(received)  # what arrived is whole, in order
    assert stderr.count(b"\n") == 1, stderr
    assert server.endpoint.encode() in stderr
    assert waited < liveness + 5


def _prefix_of_big(data: bytes) -> bool:
    """`data` is how big.py's stream starts (its lines are 100 bytes each)."""
    return big_stream(-(-len(data) // 100) * 100)[: len(data)] == data


async def _credit_spent(server: RunningServer) -> int:
    """The running run's tox pid, once the server says it has no credit left for it."""
    async with Client(parse_endpoint(server.endpoint), timeout=10) as client:
        while True:
            running = (await client.ping())[0].running
            if running and running[0].get("credit") == 0:
                return int(running[0]["pid"])


# -- 4. ^Z ---------------------------------------------------------------------------------


def stopped(client: subprocess.Popen[bytes]) -> None:
    """Wait until the client has stopped itself (the kernel's own job-control event)."""
    _, status = os.waitpid(client.pid, os.WUNTRACED)
    assert os.WIFSTOPPED(status), status


def test_a_client_stopped_with_ctrl_z_keeps_its_run_past_the_liveness(
    make_server: list[RunningServer], project: Path, tmp_path: Path
) -> None:
    server = serve(make_server, project, tmp_path, "--liveness", "2")
    with cli(server, "-e", "tree") as client:
        assert client.stdout is not None
        wait_for_ready(client.stdout)
        client.send_signal(signal.SIGTSTP)
        stopped(client)
        time.sleep(5)  # the stimulus: stopped for longer than the server's liveness
        assert [run["state"] for run in asyncio.run(_ping(server)).running] == ["paused"]
        client.send_signal(signal.SIGCONT)
        client.send_signal(signal.SIGINT)  # the run is alive: ^C cancels it as usual
        _, stderr = client.communicate(timeout=30)
    assert b"cancelling the remote run" in stderr
    assert b"stopped answering" not in stderr
    assert client.returncode not in (0, 130), stderr
    assert "client silent" not in server.log.read_text()


def test_a_stopped_client_that_is_killed_loses_its_run(
    make_server: list[RunningServer], project: Path, tmp_path: Path
) -> None:
    server = serve(make_server, project, tmp_path, "--liveness", "1")
    with cli(server, "-e", "tree") as client:
        assert client.stdout is not None
        pids = wait_for_ready(client.stdout)
        client.send_signal(signal.SIGTSTP)
        stopped(client)
        client.kill()
    asyncio.run(asyncio.wait_for(_all_exit(pids), timeout=30))
    assert all(process_gone(pid) for pid in pids)
    assert "disconnected" in server.log.read_text()


async def _ping(server: RunningServer) -> protocol.Pong:
    async with Client(parse_endpoint(server.endpoint), timeout=10) as client:
        return (await client.ping())[0]


# -- 5. the server's liveness ----------------------------------------------------------------


async def test_clients_heartbeat_inside_a_short_server_liveness(
    make_server: list[RunningServer], project: Path, tmp_path: Path
) -> None:
    server = serve(make_server, project, tmp_path, "--liveness", "1")
    async with (
        Client(parse_endpoint(server.endpoint), timeout=10) as client,
        client.run(["-e", "tree"]) as remote,
    ):
        events = aiter(remote)
        text = b""
        async for event in events:
            if isinstance(event, protocol.Output):
                text += event.data
            if b"READY" in text:
                break
        assert remote.started is not None
        assert remote.started.liveness_s == 1.0
        pong, _ = await client.ping()
        assert pong.liveness_s == 1.0
        await asyncio.sleep(4)  # the stimulus: a healthy client, idle 4 liveness periods
        assert await remote.cancel() == (remote.id,)
        _, result = await collect(remote)
    assert result.cancelled
    assert result.reason is None  # its own client ended it, not the watchdog
    assert "client silent" not in server.log.read_text()
