"""An env that tox cannot set up, through the real bridge, a real server and real tox: one
diagnostic on the env's section of tox.ini with tox's message, gone once the env runs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.conftest import RunningServer, start_server
from tests.lsp.conftest import Bridge, start_bridge, stop_bridge

pytestmark = pytest.mark.timeout(120)

TOX_INI = """\
[tox]
env_list = ok
[testenv]
skip_install = true
package = skip
system_site_packages = true
commands = python -c "print('ran')"
[testenv:ok]
[testenv:nopy]
base_python = {python}
"""
NOPY_SECTION = 9  # the line of [testenv:nopy], 1-based


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "tox.ini").write_text(TOX_INI.format(python="python2.5"))
    return root


@pytest.fixture
def server(project: Path, tmp_path: Path) -> Iterator[RunningServer]:
    running = start_server(project, tmp_path / "server.log", "--cold")
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
async def bridge(server: RunningServer, project: Path) -> AsyncIterator[Bridge]:
    started = await start_bridge(project, {"endpoint": server.endpoint, "watch": False})
    try:
        yield started
    finally:
        await stop_bridge(started)


async def test_an_env_without_its_interpreter_is_a_diagnostic_on_its_section(
    bridge: Bridge, project: Path
) -> None:
    uri = bridge.uri("tox.ini")
    result = await bridge.request("tox/run", {"args": ["-e", "nopy"]})
    assert result.exitCode != 0
    [diagnostic] = bridge.client.diagnostics[uri]
    assert diagnostic.range.start.line == NOPY_SECTION - 1
    assert "could not find python interpreter" in diagnostic.message
    assert "python2.5" in diagnostic.message
    assert diagnostic.message.startswith("[nopy] tox env nopy: ")

    # another env's run leaves it alone; the env, once it can run, clears it
    assert (await bridge.request("tox/run", {"args": ["-e", "ok"]})).exitCode == 0
    assert len(bridge.client.diagnostics[uri]) == 1
    (project / "tox.ini").write_text(TOX_INI.format(python="python3"))
    assert (await bridge.request("tox/run", {"args": ["-e", "nopy"]})).exitCode == 0
    assert list(bridge.client.diagnostics[uri]) == []


async def test_an_unreadable_tox_ini_is_a_diagnostic_where_tox_found_the_error(
    bridge: Bridge, project: Path
) -> None:
    uri = bridge.uri("tox.ini")
    (project / "tox.ini").write_text("[tox]\nenv_list = ok\n[testenv\ncommands = python -c 1\n")
    result = await bridge.request("tox/run", {"args": ["-e", "ok"]})
    assert result.exitCode != 0
    [diagnostic] = bridge.client.diagnostics[uri]
    assert diagnostic.range.start.line == 2  # tox: "[line  3]"
    assert diagnostic.message.startswith("tox: ToxIni failed loading ")

    (project / "tox.ini").write_text(TOX_INI.format(python="python3"))
    assert (await bridge.request("tox/run", {"args": ["-e", "ok"]})).exitCode == 0
    assert list(bridge.client.diagnostics[uri]) == []
