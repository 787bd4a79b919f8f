"""A client that grants credit and reads nothing cannot grow the server, stall it, or keep
`quit --now` from ending it; another client is served all along."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from tests.conftest import start_server, wait_for_line
from tests.core.test_runs import wait_exited
from tests.hardening.misbehaving import Hoarder
from toxbridge.config import parse_endpoint
from toxbridge.net.client import Client

HUGE = ["-qq", "-e", "big", "--", "20000000000"]  # 20 GB: it never ends by itself


def vm_rss_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(status.split("VmRSS:")[1].split()[0]) / 1024


async def test_a_client_that_takes_no_output_is_abandoned_and_others_are_served(
    project: Path, tmp_path: Path
) -> None:
    server = start_server(project, tmp_path / "server.log", "--liveness", "3")
    try:
        with Hoarder(server.endpoint, HUGE):
            line = await asyncio.to_thread(wait_for_line, server.log, "takes no output now")
            assert "run hoard" in line
            async with Client(parse_endpoint(server.endpoint), timeout=10) as other:
                pong, rtt = await other.ping()  # served while the server holds that output
                assert rtt < 1.0
                [hoarded] = pong.running
                rss_while_held = vm_rss_mib(server.process.pid)
                async with asyncio.timeout(30):
                    await wait_exited(int(hoarded["pid"]))  # abandoned: its tox is stopped
                async with other.run(["-e", "exit", "--", "3"]) as remote:
                    async for _ in remote:
                        pass
                assert remote.result is not None
                assert remote.result.code == 3
        assert "took no output for 3s: abandoning its runs" in server.log.read_text()
        assert rss_while_held < 150, rss_while_held
    finally:
        server.stop()


async def test_quit_now_ends_the_server_while_a_client_takes_no_output(
    project: Path, tmp_path: Path
) -> None:
    server = start_server(project, tmp_path / "server.log", "--liveness", "60")
    try:
        with Hoarder(server.endpoint, HUGE):
            await asyncio.to_thread(wait_for_line, server.log, "takes no output now")
            async with Client(parse_endpoint(server.endpoint), timeout=10) as other:
                asked = time.monotonic()
                await other.quit(now=True)
            assert await asyncio.to_thread(server.process.wait, 30) == 0
            # the grace periods (2 s after SIGINT, 1 s after SIGTERM), the stall of a
            # cancelled run (2 s) and the drain before closing: far below the liveness
            assert time.monotonic() - asked < 15
    finally:
        server.stop()
