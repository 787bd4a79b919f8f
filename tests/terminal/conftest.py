"""Fixtures of the terminal tests: the sample project, a real server on it, the CLI on a pty."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import RunningServer, create_envs, start_server, toxbridge
from tests.terminal.harness import Terminal
from tests.terminal.project import make_tty_project

ENVS = "py,a,b,ask,wait,big,raw,keep"


@pytest.fixture(scope="session")
def tty_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return create_envs(make_tty_project(tmp_path_factory.mktemp("tty-project")), ENVS)


@pytest.fixture(params=["warm", "cold"])
def tty_server(
    request: pytest.FixtureRequest, tty_project: Path, tmp_path: Path
) -> Iterator[RunningServer]:
    """A server on the sample project, warm (the default) and cold (`--cold`)."""
    extra = ("--cold",) if request.param == "cold" else ()
    running = start_server(tty_project, tmp_path / "server.log", "--sigint-grace", "1", *extra)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def warm_server(tty_project: Path, tmp_path: Path) -> Iterator[RunningServer]:
    running = start_server(tty_project, tmp_path / "server.log", "--sigint-grace", "1")
    try:
        yield running
    finally:
        running.stop()


def client_env() -> dict[str, str]:
    """The CLI's environment: a known TERM, and no PYTEST_ADDOPTS of the outer pytest."""
    env = {name: value for name, value in os.environ.items() if name != "PYTEST_ADDOPTS"}
    env["TERM"] = "xterm-256color"
    return env


def run_on_terminal(
    server: RunningServer, *tox_args: str, rows: int = 24, cols: int = 80
) -> Terminal:
    """`toxbridge run` on a fresh pty against `server`."""
    argv = toxbridge("run", *server.client_args(), *tox_args)
    return Terminal.spawn(argv, rows=rows, cols=cols, env=client_env())


PYTHON = sys.executable
