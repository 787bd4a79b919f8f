"""What a run leaves running outside tox's process group: named, killed, never waited for.

The sample project's envs leave a process behind the ways programs do (start_new_session,
a double fork), and its toxfile.py plugin starts one from inside tox that holds tox's own
stdout, the server's pipe, open.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import (
    HELPERS,
    RunningServer,
    create_envs,
    start_server,
    toxbridge,
    wait_serving,
)
from tests.core.test_runs import collect, process_gone, read_output_until_ready
from toxbridge.config import parse_endpoint
from toxbridge.net.client import Client

TOX_INI = """\
[tox]
env_list = setsid
[testenv]
skip_install = true
package = skip
[testenv:setsid]
commands = python {toxinidir}/leftover.py setsid
[testenv:double]
commands = python {toxinidir}/leftover.py double-fork
[testenv:cancel]
commands = python {toxinidir}/leftover.py setsid wait
[testenv:holder]
commands = python -c "print('the command is done')"
[testenv:orphan]
commands = python {toxinidir}/leftover.py orphan
[testenv:zombies]
commands = python {toxinidir}/zombies.py
"""

# run inside the server's PID namespace: what PID 1 is, and how many zombies there are
ZOMBIES = """\
import os

def state(pid):
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rpartition(")")[2].split()[0]

with open("/proc/1/cmdline", "rb") as cmdline:
    print("PID1", cmdline.read().replace(b"\\0", b" ").decode())
print("ZOMBIES", sum(state(pid) == "Z" for pid in os.listdir("/proc") if pid.isdigit()))
"""

# a tox plugin, as a project may have one: it starts a helper that inherits tox's stdout
TOXFILE = """\
import subprocess
import sys

from tox.plugin import impl


@impl
def tox_before_run_commands(tox_env):
    if tox_env.name == "holder":
        sleeper = [sys.executable, "-c", "import time; time.sleep(3600)"]
        helper = subprocess.Popen(sleeper, start_new_session=True)
        print(f"LEFTOVER {helper.pid}", flush=True)
"""


@pytest.fixture(scope="module")
def leftover_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("leftovers")
    (root / "tox.ini").write_text(TOX_INI)
    (root / "toxfile.py").write_text(TOXFILE)
    (root / "leftover.py").write_text((HELPERS / "leftover.py").read_text())
    (root / "zombies.py").write_text(ZOMBIES)
    return create_envs(root, "setsid,double,cancel,holder,orphan,zombies")


@pytest.fixture
def servers(leftover_project: Path, tmp_path: Path) -> Iterator[list[RunningServer]]:
    started: list[RunningServer] = []
    yield started
    for server in started:
        server.stop()


def serve(started: list[RunningServer], root: Path, log: Path, *extra: str) -> RunningServer:
    server = start_server(root, log, *extra)
    started.append(server)
    return server


def leftover_pid(output: bytes) -> int:
    found = re.search(rb"LEFTOVER (\d+)", output)
    assert found is not None, output
    return int(found.group(1))


def run_cli(server: RunningServer, env: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        toxbridge("run", *server.client_args(), "-e", env), capture_output=True, timeout=60
    )


@pytest.mark.parametrize("env", ["setsid", "double"])
def test_what_a_run_leaves_outside_its_group_is_named_and_killed(
    servers: list[RunningServer], leftover_project: Path, tmp_path: Path, env: str
) -> None:
    server = serve(servers, leftover_project, tmp_path / "server.log")
    result = run_cli(server, env)
    assert result.returncode == 0, result.stderr
    pid = leftover_pid(result.stdout)
    killed = f"toxbridge: killed 1 process the run left running outside tox's group: {pid} ("
    assert killed.encode() in result.stderr
    assert result.stderr.count(b"toxbridge:") == 1  # one line
    assert process_gone(pid)


def test_with_no_kill_leftovers_they_are_named_and_reaped_when_they_end(
    servers: list[RunningServer], leftover_project: Path, tmp_path: Path
) -> None:
    extra = "--no-kill-leftovers"
    server = serve(servers, leftover_project, tmp_path / "server.log", extra)
    result = run_cli(server, "setsid")
    assert result.returncode == 0, result.stderr
    pid = leftover_pid(result.stdout)
    try:
        assert f"toxbridge: the run left 1 process running: {pid} (".encode() in result.stderr
        assert not process_gone(pid)  # left running, as asked
    finally:
        os.kill(pid, signal.SIGKILL)
    wait_reaped(pid)  # the server, whose child it became, reaps it: no zombie stays


def wait_reaped(pid: int, timeout: float = 10) -> None:
    """Until /proc has no entry for `pid` (a zombie keeps one until its parent reaps it)."""
    deadline = time.monotonic() + timeout
    while Path(f"/proc/{pid}").exists():
        assert time.monotonic() < deadline, f"{pid} was not reaped"
        time.sleep(0.05)


async def test_cancel_kills_what_left_the_group_even_without_kill_leftovers(
    servers: list[RunningServer], leftover_project: Path, tmp_path: Path
) -> None:
    extra = "--no-kill-leftovers"
    server = serve(servers, leftover_project, tmp_path / "server.log", extra)
    async with (
        Client(parse_endpoint(server.endpoint), timeout=10) as client,
        client.run(["-e", "cancel"]) as remote,
    ):
        pid = leftover_pid(await read_output_until_ready(remote))
        await remote.cancel()
        output, result = await collect(remote)
    try:
        assert result.cancelled
        assert b"toxbridge: killed 1 process" in output
        assert process_gone(pid)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("path", ["warm", "cold"])
async def test_a_leftover_holding_the_output_pipe_does_not_hold_the_run(
    servers: list[RunningServer], leftover_project: Path, tmp_path: Path, path: str
) -> None:
    cold = ["--cold"] if path == "cold" else []
    server = serve(servers, leftover_project, tmp_path / "server.log", *cold)
    async with (
        Client(parse_endpoint(server.endpoint), timeout=10) as client,
        client.run(["-e", "holder"]) as remote,
    ):
        async with asyncio.timeout(30):  # the helper holds the pipe for an hour
            output, result = await collect(remote)
    pid = leftover_pid(output)
    try:
        assert result.code == 0
        assert b"the command is done" in output
        assert (
            f"killed 1 process the run left running outside tox's group: {pid}".encode() in output
        )
        assert process_gone(pid)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def test_server_as_pid_1_reaps_orphans(leftover_project: Path, tmp_path: Path) -> None:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare(1) for a PID namespace")
    endpoint = f"ipc://{tmp_path}/pid1.sock"
    serve_argv = toxbridge("serve", "--endpoint", endpoint, "--root", str(leftover_project))
    command = ["unshare", "--pid", "--fork", "--mount-proc", *serve_argv]
    with subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) as process:
        wait_serving(endpoint)
        client = ["--endpoint", endpoint]
        orphaned = subprocess.run(toxbridge("run", *client, "-e", "orphan"), capture_output=True)
        assert orphaned.returncode == 0, orphaned.stderr
        leftover_pid(orphaned.stdout)  # it made its orphan, which has exited by now
        counted = subprocess.run(toxbridge("run", *client, "-e", "zombies"), capture_output=True)
        assert counted.returncode == 0, counted.stderr
        assert b"PID1 " in counted.stdout
        assert b"-m toxbridge serve" in counted.stdout.split(b"PID1 ")[1].splitlines()[0]
        assert b"ZOMBIES 0" in counted.stdout
        subprocess.run(toxbridge("quit", *client), check=True, timeout=30)
        assert process.wait(timeout=30) == 0
