"""toxbridge serve in a real podman container, driven from the host.

The image is examples/Containerfile on a debootstrap Debian bookworm base (see
podman.py and .ci/podman.sh). The container shares only the host's loopback
(`--network host`, server on 127.0.0.1, never podman's bridge network), requires CURVE
keys mounted read-only, and sees the sample project at /work/project, not at its host
path: so the bridge's diagnostics must be mapped back to the host's files.
"""

from __future__ import annotations

import signal
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import HELPERS, free_port, toxbridge, wait_serving
from tests.container.podman import (
    build_context,
    ensure_base_image,
    image_for,
    podman,
    unavailable_reason,
)
from tests.hardening.soak import read_until, tree_pids
from tests.lsp.conftest import EARLY_FAIL_LINE, make_lsp_project, start_bridge, stop_bridge

INSIDE = "/work/project"
TOX_INI = """\
[tox]
env_list = early
[testenv]
skip_install = true
package = skip
deps = pytest
commands = python -m pytest -p no:cacheprovider test_early.py {posargs}
[testenv:early]
[testenv:exit]
deps =
commands = python -c "import sys; sys.exit(int(sys.argv[1]))" {posargs:0}
[testenv:tree]
deps =
commands = python {toxinidir}/tree.py {posargs}
"""
# Waits, on pidfds inside the container, until the given pids have exited.
WAIT_GONE = """\
import os, select, sys
for pid in map(int, sys.argv[1:]):
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        continue
    if not select.select([fd], [], [], 30)[0]:
        sys.exit(f"pid {pid} is still alive")
"""

reason = unavailable_reason()
pytestmark = pytest.mark.skipif(reason is not None, reason=reason or "")


@dataclass(frozen=True)
class Container:
    name: str
    endpoint: str
    keys: Path
    project: Path

    def client(self, command: str, *args: str) -> list[str]:
        return toxbridge(command, "--endpoint", self.endpoint, "--keys", str(self.keys), *args)

    def run(self, *tox_args: str, timeout: float = 120) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(self.client("run", *tox_args), capture_output=True, timeout=timeout)


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> str:
    ensure_base_image()
    return image_for(build_context(tmp_path_factory.mktemp("context")))


@pytest.fixture(scope="module")
def container(image: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Container]:
    host = tmp_path_factory.mktemp("host")
    project = make_lsp_project(host / "project")
    (project / "tox.ini").write_text(TOX_INI)
    (project / "tree.py").write_text((HELPERS / "tree.py").read_text())
    keys = host / "keys"
    subprocess.run(toxbridge("keygen", str(keys)), check=True, capture_output=True, timeout=60)
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    name = f"toxbridge-test-{uuid.uuid4().hex[:8]}"
    podman(
        "run", "--detach", "--rm", "--name", name, "--network", "host",
        "--volume", f"{project}:{INSIDE}", "--volume", f"{keys}:/keys:ro",
        "--env", "PIP_NO_INDEX=1", "--env", "PIP_FIND_LINKS=/wheels",
        image, "--endpoint", endpoint, "--sigint-grace", "1",
    )  # fmt: skip
    running = Container(name, endpoint, keys, project)
    try:
        try:
            wait_serving(endpoint, str(keys), timeout=60)  # until the container listens
        except Exception as error:
            raise AssertionError((error, podman("logs", name, check=False).stderr)) from None
        # create the tox envs once (pytest comes from the image's wheels, offline)
        envs = running.run("-e", "early,exit,tree", "--notest", timeout=300)
        assert envs.returncode == 0, envs.stdout[-3000:] + envs.stderr[-3000:]
        yield running
    finally:
        podman("rm", "--force", "--time", "5", name, check=False)


def test_run_from_the_host_runs_tox_in_the_container(container: Container) -> None:
    assert container.run("-e", "exit", "--", "7").returncode == 7
    result = container.run("-e", "early")
    assert result.returncode == 1
    assert b"early failure" in result.stdout
    assert INSIDE.encode() in result.stdout  # tox ran in the container's path
    assert str(container.project).encode() not in result.stdout


def test_keys_are_required(container: Container) -> None:
    result = subprocess.run(
        toxbridge("ping", "--endpoint", container.endpoint, "--timeout", "3"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr


def test_cancel_kills_the_tree_in_the_container(container: Container) -> None:
    with subprocess.Popen(
        container.client("run", "-e", "tree"), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as client:
        pids = tree_pids(read_until(client, b"READY", 60))
        client.send_signal(signal.SIGINT)
        _, stderr = client.communicate(timeout=60)
    assert b"cancelling the remote run" in stderr
    assert client.returncode not in (0, 130)
    gone = podman("exec", container.name, "python3", "-c", WAIT_GONE, *map(str, pids), check=False)
    assert gone.returncode == 0, gone.stderr


async def test_bridge_diagnostics_point_at_host_paths(container: Container) -> None:
    bridge = await start_bridge(
        container.project, {"endpoint": container.endpoint, "keys": str(container.keys)}
    )
    try:
        # native tracebacks name the file by its absolute path in the container
        result = await bridge.request("tox/run", {"args": ["-e", "early", "--", "--tb=native"]})
        assert (result.exitCode, result.diagnostics) == (1, 1)
        assert f"{INSIDE}/test_early.py" in bridge.recorder.text()
        host_uri = bridge.uri("test_early.py")
        assert host_uri.startswith(container.project.as_uri())
        [diagnostic] = bridge.client.diagnostics[host_uri]
        assert diagnostic.range.start.line == EARLY_FAIL_LINE - 1
        assert not any(INSIDE in uri for uri in bridge.client.diagnostics)
        assert (container.project / "test_early.py").as_uri() == host_uri
    finally:
        await stop_bridge(bridge)
