"""A SIGKILLed server cannot stop its runs; each run's tox learns that its parent died.

On the cold path tox is the server's child; on the warm path the worker's, and the
worker dies with the server. Either way the kernel sends tox SIGINT (PR_SET_PDEATHSIG),
and tox tears down as on ^C: its command gets SIGINT and the run's processes end.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from pathlib import Path

import pytest

from tests.conftest import start_server
from tests.core.test_runs import process_gone, read_until_ready, wait_exited
from tests.warm.test_lifecycle import parent_of
from toxbridge.config import parse_endpoint
from toxbridge.net.client import Client


@pytest.mark.parametrize("path", ["cold", "warm"])
async def test_a_sigkilled_servers_run_takes_its_tree_down(
    project: Path, tmp_path: Path, path: str
) -> None:
    cold = ["--cold"] if path == "cold" else []
    server = start_server(project, tmp_path / "server.log", *cold)
    tox_pid: int | None = None
    try:
        async with (
            Client(parse_endpoint(server.endpoint), timeout=10, liveness_s=60) as client,
            client.run(["-e", "sleep"]) as remote,
        ):
            [command_pid] = await read_until_ready(remote)
            assert remote.started is not None
            tox_pid = remote.started.pid
            parent = parent_of(tox_pid)
            assert (parent == server.process.pid) == (path == "cold")  # really that path
            server.process.kill()
            server.process.wait()
            async with asyncio.timeout(30):
                await wait_exited(tox_pid)
                await wait_exited(command_pid)
        assert process_gone(tox_pid)
        assert process_gone(command_pid)
        assert process_gone(parent)
    finally:
        server.stop()
        if tox_pid is not None:  # what the fix is for, should it fail: no stray tox
            with contextlib.suppress(ProcessLookupError):
                os.killpg(tox_pid, signal.SIGKILL)
