"""Shared fixtures: free ports, sample tox projects, and real `toxbridge serve` processes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

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
[testenv:color]
commands = python -m pytest -q -p no:cacheprovider test_ok.py
"""

TEST_SAMPLE = """\
def test_passes():
    assert 1 + 1 == 2


def test_fails():
    assert 1 == 2
"""


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
    for helper in ("big.py", "tree.py", "echo.py"):
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
        make_project(tmp_path_factory.mktemp("project")), "py,echo,exit,big,tree,color"
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
    # a ping waits for the connection (the client sets IMMEDIATE), so no polling is needed
    keys = (
        list(extra[extra.index("--keys") : extra.index("--keys") + 2]) if "--keys" in extra else []
    )
    ready = subprocess.run(
        toxbridge("ping", "--endpoint", endpoint, "--timeout", "20", *keys), capture_output=True
    )
    if ready.returncode != 0:
        server.stop()
        raise RuntimeError(f"server did not start: {ready.stderr!r}\n{log.read_text()}")
    return server


@pytest.fixture
def server(project: Path, tmp_path: Path) -> Iterator[RunningServer]:
    running = start_server(project, tmp_path / "server.log", "--sigint-grace", "1")
    try:
        yield running
    finally:
        running.stop()


def dedent(text: str) -> str:
    return textwrap.dedent(text).lstrip()
