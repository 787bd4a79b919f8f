"""Sample projects for warm-vs-cold runs, and one warm and one cold server over them.

The root project is the shared sample (tests/conftest.py) plus envs that cannot start;
`bad/` has a broken tox.ini and `toml/` a tox configuration in pyproject.toml. Runs
reach the sub-projects with tox's own `-c`, so two servers cover all of them. Every env
is created before any comparison, so neither path is the one that pays for creating it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import TOX_INI, RunningServer, make_project, start_server

EXTRA_ENVS = """\
[testenv:nobase]
basepython = python9.9
commands = python -c pass
[testenv:slow]
commands = python -c "print('slow done')"
[testenv:showenv]
pass_env = TOXBRIDGE_USER_*
commands = python -c "import os; print('greeting', os.environ['TOXBRIDGE_USER_GREETING'])"
"""

BAD_TOX_INI = """\
[tox]
env_list = py
[testenv
commands = python -c "print('never')"
"""

TOML_PROJECT = """\
[tool.tox]
env_list = ["a", "b"]

[tool.tox.env_run_base]
skip_install = true
system_site_packages = true
package = "skip"
commands = [["python", "-c", "import sys; print('env', sys.argv[1:])", "{env_name}"]]

[tool.tox.env.b]
commands = [["python", "-c", "import sys; sys.exit('b fails')"]]
"""

CREATED_ENVS = "py,echo,exit,tree,color,slow,showenv,sleep"


@pytest.fixture(scope="package")
def warm_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = make_project(tmp_path_factory.mktemp("warm-project"))
    (root / "tox.ini").write_text(TOX_INI + EXTRA_ENVS)
    (root / "bad").mkdir()
    (root / "bad" / "tox.ini").write_text(BAD_TOX_INI)
    (root / "toml").mkdir()
    (root / "toml" / "pyproject.toml").write_text(TOML_PROJECT)
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    tox = [sys.executable, "-m", "tox"]
    for args in (["-e", CREATED_ENVS], ["-c", "toml/pyproject.toml", "-e", "a,b"]):
        subprocess.run(
            [*tox, "run", *args, "--notest"], cwd=root, check=True, capture_output=True, env=env
        )
    return root


@pytest.fixture(scope="package")
def warm_server(
    warm_project: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    log = tmp_path_factory.mktemp("warm-log") / "server.log"
    running = start_server(warm_project, log, "--sigint-grace", "1")
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="package")
def cold_server(
    warm_project: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    log = tmp_path_factory.mktemp("cold-log") / "server.log"
    running = start_server(warm_project, log, "--sigint-grace", "1", "--cold")
    try:
        yield running
    finally:
        running.stop()
