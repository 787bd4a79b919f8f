"""The warm worker's life: who forks tox, cancel, replacement, and when a run goes cold."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

from tests.conftest import RunningServer, start_server
from tests.core.test_runs import collect, process_gone, read_until_ready, wait_exited
from toxbridge.config import parse_endpoint
from toxbridge.net.client import Client
from toxbridge.process.warm.supervisor import fingerprint, startup_env


def parent_of(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rpartition(")")[2].split()[1])


def command_line(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


async def tox_parent(server: RunningServer, env: dict[str, str] | None = None) -> int:
    """Start a `tree` run, note who forked tox, and cancel it."""
    async with (
        Client(parse_endpoint(server.endpoint), timeout=10) as client,
        client.run(["-e", "tree"], env=env or {}) as remote,
    ):
        await read_until_ready(remote)
        assert remote.started is not None
        parent = parent_of(remote.started.pid)
        await remote.cancel()
        await collect(remote)
    return parent


async def test_warm_worker_forks_tox(warm_server: RunningServer) -> None:
    worker = await tox_parent(warm_server)
    assert worker != warm_server.process.pid
    assert "toxbridge.process.warm.worker" in command_line(worker)
    assert parent_of(worker) == warm_server.process.pid
    assert await tox_parent(warm_server) == worker  # the same worker serves the next run


async def test_cold_server_execs_tox(cold_server: RunningServer) -> None:
    assert await tox_parent(cold_server) == cold_server.process.pid


@pytest.mark.parametrize("resist", ["", "term"])
async def test_cancel_kills_the_whole_tree(warm_server: RunningServer, resist: str) -> None:
    async with (
        Client(parse_endpoint(warm_server.endpoint), timeout=10) as client,
        client.run(["-e", "tree", "--", resist]) as remote,
    ):
        tree_pids = await read_until_ready(remote)
        assert remote.started is not None
        tox_pid = remote.started.pid
        assert parent_of(tox_pid) != warm_server.process.pid  # really the warm path
        assert await remote.cancel() == (remote.id,)
        _, result = await collect(remote)
    assert result.cancelled
    assert result.code != 0
    for pid in (tox_pid, *tree_pids):
        assert process_gone(pid), pid


async def test_interpreter_start_up_variables_go_cold(warm_server: RunningServer) -> None:
    # the worker's interpreter started with another hash seed: only a fresh one honours it
    parent = await tox_parent(warm_server, {"PYTHONHASHSEED": "7"})
    assert parent == warm_server.process.pid
    assert "cold run" in warm_server.log.read_text()


async def test_worker_replaced_when_the_configuration_changes(
    warm_server: RunningServer, warm_project: Path
) -> None:
    before = await tox_parent(warm_server)
    tox_ini = warm_project / "tox.ini"
    stat = tox_ini.stat()
    os.utime(tox_ini, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    after = await tox_parent(warm_server)
    assert after != before
    await wait_exited(before)
    assert await tox_parent(warm_server) == after


async def test_worker_replaced_when_it_dies(warm_server: RunningServer) -> None:
    before = await tox_parent(warm_server)
    os.kill(before, signal.SIGKILL)
    await wait_exited(before)
    after = await tox_parent(warm_server)
    assert after not in (before, warm_server.process.pid)
    assert "toxbridge.process.warm.worker" in command_line(after)


def test_fingerprint_follows_configuration_files(tmp_path: Path) -> None:
    empty = fingerprint(str(tmp_path))
    (tmp_path / "tox.ini").write_text("[tox]\n")
    assert fingerprint(str(tmp_path)) != empty


def test_startup_env_keeps_what_the_interpreter_reads() -> None:
    env = {"PYTHONHASHSEED": "1", "LC_ALL": "C", "LANG": "C", "FORCE_COLOR": "1", "PATH": "/"}
    assert startup_env(env) == {"PYTHONHASHSEED": "1", "LC_ALL": "C", "LANG": "C"}


async def test_worker_dies_with_its_server(warm_project: Path, tmp_path: Path) -> None:
    server = start_server(warm_project, tmp_path / "server.log")
    try:
        worker = await tox_parent(server)
        assert "toxbridge.process.warm.worker" in command_line(worker)
        assert parent_of(worker) == server.process.pid
        assert not process_gone(worker)  # it outlives the run it served
        server.process.kill()  # no chance to close the worker: only the kernel can tell it
        server.process.wait()
        async with asyncio.timeout(30):
            await wait_exited(worker)
        assert process_gone(worker)
    finally:
        server.stop()


async def test_cold_setting_from_the_environment(
    warm_project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOXBRIDGE_COLD", "1")
    server = start_server(warm_project, tmp_path / "server.log")
    try:
        assert await tox_parent(server) == server.process.pid
    finally:
        server.stop()
