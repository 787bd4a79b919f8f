"""Shared fixtures: free ports, sample tox projects, and real `toxbridge serve` processes."""

from __future__ import annotations

import asyncio
import os
import site
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

HELPERS = Path(__file__).parent / "helpers"

TOX_INI = """\
[tox]
env_list = py
[testenv]
skip_install = true
system_site_packages = true
package = skip
commands = python -m pytest -q -p no:cacheprovider {posargs:test_sample.py}
[testenv:echo]
commands = python {toxinidir}/echo.py {posargs}
[testenv:exit]
commands = python -c "import sys; sys.exit(int(sys.argv[1]))" {posargs:0}
[testenv:big]
commands = python {toxinidir}/big.py {posargs:1000000}
[testenv:tree]
commands = python {toxinidir}/tree.py {posargs}
[testenv:sleep]
commands = python {toxinidir}/sleeper.py
[testenv:color]
commands = python -m pytest -q -p no:cacheprovider test_ok.py
"""

TEST_SAMPLE = """\
def test_passes():
    assert 1 + 1 == 2


def test_fails():
    assert 1 == 2
"""


def site_packages_override() -> str:
    """A TOX_OVERRIDE that puts this interpreter's site-packages on every env's PYTHONPATH."""
    return f"testenv.set_env+=PYTHONPATH={os.pathsep.join(site.getsitepackages())}"


def pytest_configure(config: pytest.Config) -> None:
    """Sample tox envs see this interpreter's packages (pytest among them), not its base's.

    They are made with `system_site_packages = true`, so they need no downloads; but an env
    made from a venv's interpreter sees the base interpreter's site-packages, which may have
    no pytest (Debian's python3 under .ci/run's venv). Every tox the tests start, directly
    or through a server, inherits this override."""
    os.environ.setdefault("TOX_OVERRIDE", site_packages_override())
    # tox lists each env's installed packages when it thinks it runs in CI (`CI` and the
    # vendors' variables, tox.util.ci), and then shows every env's output in parallel
    # mode: the tests compare tox's output with a developer's, wherever they run
    for variable in CI_VARIABLES:
        os.environ.pop(variable, None)


# tox.util.ci's list (private to tox, so copied)
CI_VARIABLES = (
    "CI", "TF_BUILD", "bamboo.buildKey", "BUILDKITE", "CIRCLECI", "CIRRUS_CI",
    "CODEBUILD_BUILD_ID", "GITHUB_ACTIONS", "GITLAB_CI", "HEROKU_TEST_RUN_ID", "BUILD_ID",
    "TEAMCITY_VERSION", "TRAVIS",
)  # fmt: skip


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def make_project(root: Path) -> Path:
    """A tox project that needs no downloads: envs see this interpreter's packages."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "tox.ini").write_text(TOX_INI)
    (root / "test_sample.py").write_text(TEST_SAMPLE)
    (root / "test_ok.py").write_text("def test_ok():\n    assert True\n")
    for helper in ("big.py", "tree.py", "echo.py", "sleeper.py"):
        (root / helper).write_text((HELPERS / helper).read_text())
    return root


def create_envs(root: Path, envs: str) -> Path:
    """Create the tox envs `envs` (comma-separated) of the project at `root` once, up front."""
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    subprocess.run(
        [sys.executable, "-m", "tox", "run", "-e", envs, "--notest"],
        cwd=root,
        check=True,
        capture_output=True,
        env=env,
    )
    return root


@pytest.fixture(scope="session")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One shared sample project; its tox envs are created once per session."""
    return create_envs(
        make_project(tmp_path_factory.mktemp("project")), "py,echo,exit,big,tree,color,sleep"
    )


@dataclass
class RunningServer:
    process: subprocess.Popen[bytes]
    endpoint: str
    root: Path
    log: Path

    def client_args(self) -> list[str]:
        return ["--endpoint", self.endpoint]

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.terminate()
        return self.process.wait(timeout=20)


def toxbridge(*args: str) -> list[str]:
    return [sys.executable, "-m", "toxbridge", *args]


def start_server(root: Path, log: Path, *extra: str, endpoint: str | None = None) -> RunningServer:
    endpoint = endpoint or f"tcp://127.0.0.1:{free_port()}"
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            toxbridge("-l", "info", "serve", "--endpoint", endpoint, "--root", str(root), *extra),
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    server = RunningServer(process, endpoint, root, log)
    keys = extra[extra.index("--keys") + 1] if "--keys" in extra else None
    try:
        wait_serving(endpoint, keys)
    except Exception as error:
        server.stop()
        raise RuntimeError(f"server did not start: {error}\n{log.read_text()}") from None
    return server


def wait_serving(endpoint: str, keys: str | None = None, timeout: float = 20) -> None:
    """Until a server answers a ping at `endpoint`. The client's socket connects as soon as
    the server listens (a refusal is not final here), so this waits on no timer."""
    from toxbridge.config import parse_endpoint
    from toxbridge.net.auth import client_keys_from
    from toxbridge.net.client import Client

    async def ping() -> None:
        client = Client(
            parse_endpoint(endpoint),
            timeout=timeout,
            keys=client_keys_from(keys),
            fail_fast=False,
        )
        async with client:
            await client.ping()

    # in a thread of its own: callers may be inside a running event loop
    failures: list[BaseException] = []
    thread = threading.Thread(target=lambda: _run_collecting(ping, failures))
    thread.start()
    thread.join()
    if failures:
        raise failures[0]


def _run_collecting(
    coroutine: Callable[[], Coroutine[Any, Any, None]], failures: list[BaseException]
) -> None:
    try:
        asyncio.run(coroutine())
    except BaseException as error:
        failures.append(error)


@pytest.fixture
def server(project: Path, tmp_path: Path) -> Iterator[RunningServer]:
    running = start_server(project, tmp_path / "server.log", "--sigint-grace", "1")
    try:
        yield running
    finally:
        running.stop()


def wait_for_line(path: Path, text: str, timeout: float = 30) -> str:
    """The first line of the log at `path` that contains `text`, once the server wrote it.

    The server writes its log to a file, so this reads the file again as it grows."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in path.read_text(errors="replace").splitlines():
            if text in line:
                return line
        time.sleep(0.05)
    raise AssertionError(f"no line with {text!r} in {path} within {timeout:g}s")


def dedent(text: str) -> str:
    return textwrap.dedent(text).lstrip()
