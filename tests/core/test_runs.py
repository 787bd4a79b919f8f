"""Runs through a real `toxbridge serve` with real tox: output, exit codes, cancel, queue."""

from __future__ import annotations

import asyncio
import hashlib
import os
import select
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO

import pytest

from tests.conftest import HELPERS, RunningServer, toxbridge
from toxbridge.config import parse_endpoint
from toxbridge.errors import RemoteError
from toxbridge.net.client import Client, RemoteRun
from toxbridge.wire import protocol


def run_cli(server: RunningServer, *tox_args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        toxbridge("run", *server.client_args(), *tox_args), capture_output=True, timeout=60
    )


def process_gone(pid: int) -> bool:
    """True when `pid` has exited (a zombie waiting for its reaper counts as gone)."""
    try:
        status = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):  # ESRCH: reaped while being read
        return True
    return status.rpartition(")")[2].split()[0] in ("Z", "X")


async def wait_exited(pid: int) -> None:
    """Wait, on the kernel's own event, until `pid` has exited."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        loop = asyncio.get_running_loop()
        exited = loop.create_future()
        loop.add_reader(fd, lambda: None if exited.done() else exited.set_result(None))
        try:
            await exited
        finally:
            loop.remove_reader(fd)
    finally:
        os.close(fd)


async def read_output_until_ready(remote: RemoteRun) -> bytes:
    """Consume a `tree` run's output until it says READY; returns that output."""
    text = b""
    async for event in remote:
        if isinstance(event, protocol.Output):
            text += event.data
            if b"READY" in text:
                break
        assert not isinstance(event, protocol.Exit), text
    return text


async def read_until_ready(remote: RemoteRun) -> list[int]:
    """Consume a `tree` run's output until it says READY; returns its PIDS line."""
    text = await read_output_until_ready(remote)
    pids_line = next(line for line in text.splitlines() if line.startswith(b"PIDS"))
    return [int(pid) for pid in pids_line.split()[1:]]


def wait_for_ready(stream: IO[bytes]) -> list[int]:
    """Read a CLI `tree` run's stdout until it says READY; returns its PIDS line."""
    pids: list[int] = []
    for line in stream:
        if line.startswith(b"PIDS"):
            pids = [int(pid) for pid in line.split()[1:]]
        if line.startswith(b"READY"):
            return pids
    raise AssertionError("the tree run ended without saying READY")


async def collect(remote: RemoteRun) -> tuple[bytes, protocol.Exit]:
    data = b""
    async for event in remote:
        if isinstance(event, protocol.Output):
            data += event.data
    assert remote.result is not None
    return data, remote.result


@pytest.fixture
async def client(server: RunningServer) -> AsyncIterator[Client]:
    async with Client(parse_endpoint(server.endpoint), timeout=10) as opened:
        yield opened


def test_run_relays_both_streams_and_exit_code(server: RunningServer) -> None:
    result = run_cli(server, "-e", "echo", "--", "hello", "world")
    assert result.returncode == 0, result.stderr
    assert b"echo hello world" in result.stdout
    assert b"to stderr" in result.stderr
    assert b"\nto stderr" not in result.stdout  # (the echoed command line mentions it)


@pytest.mark.parametrize("code", [0, 3, 42])
def test_exit_code_is_tox_exit_code(server: RunningServer, code: int) -> None:
    assert run_cli(server, "-e", "exit", "--", str(code)).returncode == code


def test_failing_pytest_run(server: RunningServer) -> None:
    result = run_cli(server, "-e", "py")
    assert result.returncode == 1
    assert b"1 failed, 1 passed" in result.stdout
    assert b"test_sample.py:6: AssertionError" in result.stdout


def test_color_yes_colours_pytest_output(server: RunningServer) -> None:
    coloured = subprocess.run(
        toxbridge("run", "--color", "yes", *server.client_args(), "-e", "color"),
        capture_output=True,
        timeout=60,
    )
    plain = run_cli(server, "-e", "color")
    assert coloured.returncode == plain.returncode == 0
    assert b"\x1b[" in coloured.stdout
    assert b"\x1b[" not in plain.stdout


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_200_mb_arrive_identical_with_bounded_memory(server: RunningServer) -> None:
    size = 200_000_000
    expected = _stream_digest([sys.executable, str(HELPERS / "big.py"), str(size)])
    client = [sys.executable, str(HELPERS / "peak_rss.py"), "run", *server.client_args()]
    received, digest, stderr, code = _stream_digest_and_stderr(
        [*client, "-qq", "-e", "big", "--", str(size)]
    )
    assert code == 0, stderr
    assert received == size
    assert digest == expected[1]
    client_peak_mib = int(stderr.split(b"PEAK_RSS_KIB")[1]) / 1024
    server_status = Path(f"/proc/{server.process.pid}/status").read_text()
    server_peak_mib = int(server_status.split("VmHWM:")[1].split()[0]) / 1024
    assert client_peak_mib < 100, client_peak_mib
    assert server_peak_mib < 100, server_peak_mib


def _stream_digest(argv: list[str]) -> tuple[int, str]:
    received, digest, _, code = _stream_digest_and_stderr(argv)
    assert code == 0
    return received, digest


def _stream_digest_and_stderr(argv: list[str]) -> tuple[int, str, bytes, int]:
    """Hash a command's stdout as it streams, never holding it in memory."""
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        assert process.stdout is not None
        assert process.stderr is not None
        digest, received = hashlib.sha256(), 0
        while chunk := process.stdout.read(1 << 20):
            digest.update(chunk)
            received += len(chunk)
        stderr = process.stderr.read()
    return received, digest.hexdigest(), stderr, process.returncode


@pytest.mark.parametrize("resist", ["", "term"])
async def test_cancel_kills_the_whole_tree(client: Client, resist: str) -> None:
    async with client.run(["-e", "tree", "--", resist]) as remote:
        tree_pids = await read_until_ready(remote)
        assert remote.started is not None
        tox_pid = remote.started.pid
        assert await remote.cancel() == (remote.id,)
        _, result = await collect(remote)
    assert result.cancelled
    assert result.code != 0
    for pid in (tox_pid, *tree_pids):
        assert process_gone(pid), pid


async def test_a_burst_then_silence_arrives_whole_without_waiting_for_more(
    client: Client,
) -> None:
    # the server gathers a writer's big reads into larger messages: a burst that is then
    # followed by nothing (a test run printing a long traceback, then thinking) must still
    # arrive at once, not wait for more output or the end of the run
    pad = 300_000
    async with client.run(["-e", "tree", "--", f"pad={pad}"]) as remote:
        async with asyncio.timeout(30):
            text = await read_output_until_ready(remote)
        await remote.cancel()
        _, result = await collect(remote)
    assert text.count(b"." * 63 + b"\n") == pad // 64  # all of the burst
    assert result.cancelled


async def test_queue_ping_and_next_run_after_cancel(server: RunningServer) -> None:
    endpoint = parse_endpoint(server.endpoint)
    async with (
        Client(endpoint, timeout=10) as first,
        Client(endpoint, timeout=10) as second,
        first.run(["-e", "tree"]) as blocking,
    ):
        await read_until_ready(blocking)
        async with second.run(["-e", "echo", "--", "queued-run"]) as waiting:
            event = await anext(aiter(waiting))
            assert event == protocol.Queued(waiting.id, 1, liveness_s=10.0)
            pong, rtt = await second.ping()
            assert [run["id"] for run in pong.running] == [blocking.id]
            assert pong.queued == 1
            assert rtt < 1.0
            await blocking.cancel()
            output, result = await collect(waiting)
        assert result.code == 0
        assert b"echo queued-run" in output
        _, blocked_result = await collect(blocking)
        assert blocked_result.cancelled


async def test_cancelling_a_queued_run_ends_it_without_starting(server: RunningServer) -> None:
    endpoint = parse_endpoint(server.endpoint)
    async with (
        Client(endpoint, timeout=10) as first,
        Client(endpoint, timeout=10) as second,
        first.run(["-e", "tree"]) as blocking,
    ):
        await read_until_ready(blocking)
        async with second.run(["-e", "echo"]) as waiting:
            assert isinstance(await anext(aiter(waiting)), protocol.Queued)
            assert await waiting.cancel() == (waiting.id,)
            output, result = await collect(waiting)
            assert waiting.started is None
        assert result.cancelled
        assert output == b""
        await blocking.cancel()


async def test_env_overrides_are_allow_listed(client: Client) -> None:
    with pytest.raises(RemoteError, match="LD_PRELOAD"):
        async with client.run(["-e", "echo"], env={"LD_PRELOAD": "/tmp/evil.so"}) as remote:
            await collect(remote)
    async with client.run(["-e", "echo"], env={"PYTHONHASHSEED": "7"}) as remote:
        _, result = await collect(remote)
    assert result.code == 0


def test_dead_client_run_is_cancelled(project: Path, tmp_path: Path) -> None:
    from tests.conftest import start_server

    server = start_server(project, tmp_path / "server.log", "--liveness", "1")
    try:
        with subprocess.Popen(
            toxbridge("run", *server.client_args(), "-e", "tree"), stdout=subprocess.PIPE
        ) as client:
            assert client.stdout is not None
            pids = wait_for_ready(client.stdout)
            client.kill()
        asyncio.run(asyncio.wait_for(_all_exit(pids), timeout=30))
        assert all(process_gone(pid) for pid in pids)
        assert "client silent" in server.log.read_text()
    finally:
        server.stop()


async def _all_exit(pids: list[int]) -> None:
    for pid in pids:
        await wait_exited(pid)


def test_second_interrupt_in_a_terminal(server: RunningServer) -> None:
    first, second = _interrupt_in_pty(server, presses=2)
    assert b"cancelling the remote run" in first
    assert second == 130


def test_first_interrupt_cancels_and_reports_real_exit(server: RunningServer) -> None:
    output, code = _interrupt_in_pty(server, presses=1)
    assert b"cancelling the remote run" in output
    assert b"interrupt tox environment: tree" in output  # tox itself saw the SIGINT
    assert code not in (0, 130)  # tox's own status for an interrupted run


def _interrupt_in_pty(server: RunningServer, presses: int) -> tuple[bytes, int]:
    """Run `toxbridge run -e tree` on a terminal and press ^C `presses` times (in pipe mode:
    ^C in tty mode is the remote program's, see tests/terminal)."""
    import pty

    pid, master = pty.fork()
    if pid == 0:  # the child: become `toxbridge run` on the terminal
        os.execv(sys.executable, toxbridge("run", "--no-tty", *server.client_args(), "-e", "tree"))  # noqa: S606
    transcript = b""
    pressed = 0
    try:
        while True:
            ready, _, _ = select.select([master], [], [], 30)
            assert ready, f"no output from toxbridge run: {transcript!r}"
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            transcript += data
            if b"READY" in transcript and pressed == 0:
                os.write(master, b"\x03")
                pressed = 1
            elif pressed == 1 and presses == 2 and b"cancelling" in transcript:
                os.write(master, b"\x03")
                pressed = 2
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(master)
    return transcript, os.waitstatus_to_exitcode(status)


def test_interrupt_signal_from_kill_is_handled_like_ctrl_c(server: RunningServer) -> None:
    with subprocess.Popen(
        toxbridge("run", *server.client_args(), "-e", "tree"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as client:
        assert client.stdout is not None
        wait_for_ready(client.stdout)
        client.send_signal(signal.SIGINT)
        _, stderr = client.communicate(timeout=30)
    assert b"cancelling the remote run" in stderr
    assert client.returncode not in (0, 130)
