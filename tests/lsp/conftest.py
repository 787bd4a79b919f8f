"""Fixtures for the bridge's end-to-end tests: a sample project whose tests fail at known
lines (one of them waits for a file the test creates), a real `toxbridge serve` on a free
port, and the real `toxbridge lsp` driven by pytest-lsp with a real editor's capabilities.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pytest
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from tests.conftest import RunningServer, create_envs, start_server

TOX_INI = """\
[tox]
env_list = early, late
[testenv]
skip_install = true
system_site_packages = true
package = skip
pass_env = TOXBRIDGE_USER_*
commands = python -m pytest -p no:cacheprovider {posargs}
[testenv:early]
commands = python -m pytest -p no:cacheprovider test_early.py {posargs}
[testenv:late]
commands = python -m pytest -p no:cacheprovider test_late.py {posargs}
[testenv:ok]
commands = python -m pytest -p no:cacheprovider test_ok.py {posargs}
[testenv:toggle]
commands = python -m pytest -p no:cacheprovider {posargs:test_toggle.py}
[testenv:broken]
commands = python -m pytest -p no:cacheprovider {posargs:test_broken.py test_toggle.py}
"""

TEST_EARLY = """\
def test_passes():
    assert True


def test_fails_early():
    assert 1 == 2, "early failure"
"""
EARLY_FAIL_LINE = 6  # 1-based

# A slow test: it blocks opening a FIFO until the test writes to it (`release`).
TEST_LATE = """\
import os


def test_fails_late():
    print(f"WAITING PID {os.getpid()}", flush=True)  # seen live with `-s`
    release = os.environ.get("TOXBRIDGE_USER_RELEASE")
    if release:
        with open(release, "rb") as fifo:
            fifo.read()
    assert "late" == "released"
"""
LATE_FAIL_LINE = 10
LATE_DEF_LINE = 4
# A FIFO in every sample project that nothing ever writes: the late test waits forever.
NEVER_RELEASED = "never-released"


def release_fifo(path: Path) -> None:
    """Let a late test that waits on the FIFO `path` go on (blocks until it is reading)."""
    path.write_text("go")


TEST_OK = "def test_ok():\n    assert True\n"

# A test that fails only when asked to (TOXBRIDGE_USER_MODE=fail), beside one that always does.
TEST_TOGGLE = """\
import os


def test_toggles():
    assert os.environ.get("TOXBRIDGE_USER_MODE") != "fail", "toggled to fail"


def test_always_fails():
    assert [1, 2] == [1, 3]
"""
TOGGLE_LINE, ALWAYS_LINE = 5, 9
TOGGLE_DEF, ALWAYS_DEF = 4, 8
TEST_BROKEN = "import a_module_that_does_not_exist  # noqa: F401\n"

PROFILES = ["visual-studio-code", "neovim@v0.7.0"]


def make_lsp_project(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "tox.ini").write_text(TOX_INI)
    (root / "test_early.py").write_text(TEST_EARLY)
    (root / "test_late.py").write_text(TEST_LATE)
    if not (root / NEVER_RELEASED).exists():
        os.mkfifo(root / NEVER_RELEASED)
    (root / "test_ok.py").write_text(TEST_OK)
    (root / "test_toggle.py").write_text(TEST_TOGGLE)
    (root / "test_broken.py").write_text(TEST_BROKEN)
    return root


@pytest.fixture(scope="session")
def lsp_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Shared by all bridge tests; its tox envs are created once."""
    return create_envs(
        make_lsp_project(tmp_path_factory.mktemp("lsp-project")), "early,late,ok,toggle,broken"
    )


@pytest.fixture
def tox_server(lsp_project: Path, tmp_path: Path) -> Iterator[RunningServer]:
    running = start_server(lsp_project, tmp_path / "server.log", "--sigint-grace", "1")
    try:
        yield running
    finally:
        running.stop()


@dataclass
class Recorder:
    """What the bridge sent besides diagnostics and progress (pytest-lsp keeps those)."""

    output: list[Any] = field(default_factory=list)
    status: list[Any] = field(default_factory=list)
    results: list[Any] = field(default_factory=list)  # tox/testResults params
    runs: list[Any] = field(default_factory=list)  # tox/testRun params
    lens_refreshes: int = 0  # workspace/codeLens/refresh requests
    watch: list[Any] = field(default_factory=list)  # tox/watch params

    def text(self) -> str:
        return "".join(item.text for item in self.output)


@dataclass
class Bridge:
    client: LanguageClient
    recorder: Recorder
    workspace: Path
    profile: str

    async def request(self, method: str, params: Any) -> Any:
        """A custom request; the result has attribute access (pygls' generic objects)."""
        send = self.client.protocol.send_request_async
        return await send(method, params)  # type: ignore[no-untyped-call]  # untyped in pytest-lsp

    def uri(self, name: str) -> str:
        return (self.workspace / name).as_uri()

    async def wait_diagnostics(self, uri: str, *, nonempty: bool = True) -> list[Any]:
        while bool(self.client.diagnostics.get(uri)) != nonempty or uri not in (
            self.client.diagnostics
        ):
            await self.client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        return list(self.client.diagnostics[uri])

    async def wait_status(self, state: str, count: int = 1) -> Any:
        """The `count`-th `tox/status` notification with `state`."""
        while len(found := [s for s in self.recorder.status if s.state == state]) < count:
            await self.client.wait_for_notification("tox/status")
        return found[count - 1]

    def results(self, run_id: str | None = None) -> dict[str, Any]:
        """Each test id's latest `tox/testResults` entry (of the run `run_id`, or any)."""
        return {
            entry.id: entry
            for batch in self.recorder.results
            if run_id in (None, batch.runId)
            for entry in batch.results
        }

    async def wait_result(self, test_id: str, state: str) -> Any:
        while getattr(self.results().get(test_id), "state", None) != state:
            await self.client.wait_for_notification("tox/testResults")
        return self.results()[test_id]

    async def wait_run(self, state: str, count: int = 1, origin: str | None = None) -> Any:
        """The `count`-th `tox/testRun` notification with `state` (and `origin`)."""
        while (
            len(
                found := [
                    r for r in self.recorder.runs if r.state == state and origin in (None, r.origin)
                ]
            )
            < count
        ):
            await self.client.wait_for_notification("tox/testRun")
        return found[count - 1]

    async def wait_watching(self) -> None:
        while not any(item.state == "watching" for item in self.recorder.watch):
            await self.client.wait_for_notification("tox/watch")

    async def wait_output(self, pattern: str) -> re.Match[str]:
        while (match := re.search(pattern, self.recorder.text())) is None:
            await self.client.wait_for_notification("tox/output")
        return match


async def start_bridge(
    workspace: Path,
    options: dict[str, Any],
    profile: str = "visual-studio-code",
    extra_args: tuple[str, ...] = (),
) -> Bridge:
    config = ClientServerConfig(
        server_command=[sys.executable, "-m", "toxbridge", "lsp", "--stdio", *extra_args],
        server_env={k: v for k, v in os.environ.items() if not k.startswith("TOXBRIDGE_")},
    )
    client = cast(LanguageClient, await config.start())
    recorder = Recorder()
    # pygls registers plain functions only (it sets attributes on them)
    client.feature("tox/output")(lambda params: recorder.output.append(params))
    client.feature("tox/status")(lambda params: recorder.status.append(params))
    client.feature("tox/testResults")(lambda params: recorder.results.append(params))
    client.feature("tox/testRun")(lambda params: recorder.runs.append(params))
    client.feature("tox/watch")(lambda params: recorder.watch.append(params))

    def refresh_lenses(params: Any) -> None:
        recorder.lens_refreshes += 1

    client.feature(types.WORKSPACE_CODE_LENS_REFRESH)(refresh_lenses)

    await client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities(profile),
            root_uri=workspace.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=workspace.as_uri(), name="project")],
            initialization_options=options,
        )
    )
    return Bridge(client, recorder, workspace, profile)


async def stop_bridge(bridge: Bridge) -> None:
    try:
        await bridge.client.shutdown_session()
    finally:
        await bridge.client.stop()  # type: ignore[no-untyped-call]  # pytest-lsp is untyped


@pytest.fixture(params=PROFILES)
async def bridge(
    request: pytest.FixtureRequest, tox_server: RunningServer, lsp_project: Path
) -> AsyncIterator[Bridge]:
    """The bridge on the project itself, as each real editor would start it."""
    started = await start_bridge(
        lsp_project, {"endpoint": tox_server.endpoint}, profile=request.param
    )
    try:
        yield started
    finally:
        await stop_bridge(started)


@pytest.fixture
async def vscode_bridge(tox_server: RunningServer, lsp_project: Path) -> AsyncIterator[Bridge]:
    started = await start_bridge(lsp_project, {"endpoint": tox_server.endpoint})
    try:
        yield started
    finally:
        await stop_bridge(started)
