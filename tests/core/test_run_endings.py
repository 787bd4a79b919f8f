"""Runs ended by someone else say so, and the server's limits answer `busy`.

`toxbridge run` prints one line naming who or what ended its run when that was not its
own ^C: another client's `toxbridge cancel`, `toxbridge quit --now`, the liveness watchdog.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
from pathlib import Path

import pytest

from tests.conftest import RunningServer, start_server, toxbridge
from tests.core.test_runs import collect, read_until_ready, wait_exited, wait_for_ready
from toxbridge.config import parse_endpoint
from toxbridge.errors import RemoteError
from toxbridge.net.client import Client
from toxbridge.wire import protocol


def cli_run(server: RunningServer, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        toxbridge("run", *server.client_args(), *args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_a_run_cancelled_by_another_client_says_so(server: RunningServer) -> None:
    with cli_run(server, "-e", "tree") as runner:
        assert runner.stdout is not None
        wait_for_ready(runner.stdout)
        subprocess.run(toxbridge("cancel", *server.client_args()), check=True, timeout=30)
        _, stderr = runner.communicate(timeout=30)
    assert b"toxbridge: cancelled by another client's request" in stderr
    assert runner.returncode not in (0, 130)


def test_a_queued_run_dropped_by_quit_now_says_so(server: RunningServer) -> None:
    with cli_run(server, "-e", "tree") as first:
        assert first.stdout is not None
        wait_for_ready(first.stdout)
        with cli_run(server, "-e", "echo") as queued:
            assert queued.stderr is not None
            assert b"queued, 1 run(s) ahead" in queued.stderr.readline()
            subprocess.run(toxbridge("quit", "--now", *server.client_args()), check=True)
            _, stderr = queued.communicate(timeout=30)
        assert queued.returncode == 130
        assert b"toxbridge: cancelled: `toxbridge quit --now` stopped the server" in stderr
        _, first_stderr = first.communicate(timeout=30)
    assert b"quit --now" in first_stderr  # the running one too


def test_a_run_cancelled_by_the_liveness_watchdog_says_so_when_its_client_comes_back(
    project: Path, tmp_path: Path
) -> None:
    server = start_server(project, tmp_path / "server.log", "--liveness", "1")
    try:
        with cli_run(server, "-e", "tree") as runner:
            assert runner.stdout is not None
            pids = wait_for_ready(runner.stdout)
            runner.send_signal(signal.SIGSTOP)  # stopped without a word (not ^Z)
            asyncio.run(asyncio.wait_for(_all_exit(pids), timeout=30))  # the watchdog's cancel
            runner.send_signal(signal.SIGCONT)
            _, stderr = runner.communicate(timeout=30)
    finally:
        server.stop()
    assert b"toxbridge: cancelled: the server heard nothing from this client for 1s" in stderr
    assert runner.returncode not in (0, 130)


async def _all_exit(pids: list[int]) -> None:
    for pid in pids:
        await wait_exited(pid)


async def test_queued_runs_are_bounded_per_client_and_in_all(project: Path, tmp_path: Path) -> None:
    limits = ["--max-queued", "2", "--max-queued-per-client", "1"]
    server = start_server(project, tmp_path / "server.log", *limits)
    endpoint = parse_endpoint(server.endpoint)
    try:
        async with (
            Client(endpoint, timeout=10) as a,
            Client(endpoint, timeout=10) as b,
            Client(endpoint, timeout=10) as c,
            a.run(["-e", "tree"]) as blocking,
        ):
            await read_until_ready(blocking)
            async with b.run(["-e", "echo"]) as waiting_b, c.run(["-e", "echo"]) as waiting_c:
                assert isinstance(await anext(aiter(waiting_b)), protocol.Queued)
                assert isinstance(await anext(aiter(waiting_c)), protocol.Queued)
                with pytest.raises(RemoteError, match="already has 1 runs waiting"):
                    async with b.run(["-e", "echo"]) as second_of_b:
                        await collect(second_of_b)
                with pytest.raises(RemoteError, match="2 runs are waiting already"):
                    async with a.run(["-e", "echo"]) as one_too_many:
                        await collect(one_too_many)
                await blocking.cancel()
                for waiting in (waiting_b, waiting_c):
                    _, result = await collect(waiting)
                    assert result.code == 0
    finally:
        server.stop()
