"""What a command-line process imports, measured in the real process: a ping or a run pays
for no server, no process runner, no tox and no LSP bridge, and a ping not for asyncio.
(How long start-up takes is `benchmarks/bench_startup.py`'s job, not a test's.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import RunningServer

# A real `toxbridge` process whose last act (atexit, or just before os._exit) is to write
# the names of every module it imported.
DRIVER = """
import json, os, sys
def dump():
    with open(os.environ["TB_MODULES"], "w") as out:
        json.dump(sorted(sys.modules), out)
real_exit = os._exit
def exit_after_dump(code):
    dump()
    real_exit(code)
os._exit = exit_after_dump
import atexit
atexit.register(dump)
sys.argv[0] = "toxbridge"
from toxbridge.cli.main import main
sys.exit(main())
"""
NEVER = ("toxbridge.server", "toxbridge.process", "toxbridge.lsp", "toxbridge.diagnostics",
         "pygls", "lsprotocol", "tox", "shtab", "tomllib")  # fmt: skip


def imported(tmp_path: Path, *argv: str) -> set[str]:
    modules = tmp_path / "modules.json"
    done = subprocess.run(
        [sys.executable, "-c", DRIVER, *argv],
        cwd=tmp_path,  # no pyproject.toml here or above: nothing to parse
        env={"TB_MODULES": str(modules), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return set(json.loads(modules.read_text())) - at_start()


def at_start() -> set[str]:
    """What every interpreter here imports before any code of ours (site's .pth files)."""
    done = subprocess.run(
        [sys.executable, "-c", "import json, sys; print(json.dumps(sorted(sys.modules)))"],
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        check=True,
        timeout=60,
    )
    return set(json.loads(done.stdout)) - {"json", "json.decoder", "json.encoder", "json.scanner"}


def heavy(modules: set[str], roots: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == r or m.startswith(f"{r}.") for r in roots))


def test_ping_imports_neither_the_server_nor_asyncio(server: RunningServer, tmp_path: Path) -> None:
    modules = imported(tmp_path, "ping", *server.client_args())
    assert "toxbridge.net.oneshot" in modules  # it did ping
    assert heavy(modules, (*NEVER, "asyncio", "zmq.asyncio", "logging", "uuid", "shutil")) == []


def test_run_imports_no_server_runner_tox_or_bridge(server: RunningServer, tmp_path: Path) -> None:
    modules = imported(tmp_path, "run", *server.client_args(), "-e", "exit")
    assert "toxbridge.net.client" in modules  # it did run
    assert heavy(modules, NEVER) == []


@pytest.mark.parametrize("argv", [["--help"], ["ping", "--help"], ["run", "--help"]])
def test_help_imports_no_transport(tmp_path: Path, argv: list[str]) -> None:
    modules = imported(tmp_path, *argv)
    assert heavy(modules, (*NEVER, "zmq", "asyncio", "toxbridge.net")) == []
