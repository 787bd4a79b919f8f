"""Tests in the editor through the real bridge, server and tox: `tox/discover`,
`tox/runTests`, the lens commands and `textDocument/codeLens`."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcRequestCancelled

from tests.conftest import RunningServer
from tests.lsp.conftest import (
    ALWAYS_DEF,
    ALWAYS_LINE,
    NEVER_RELEASED,
    TOGGLE_DEF,
    Bridge,
    start_bridge,
    stop_bridge,
)

pytestmark = pytest.mark.timeout(90)
TOGGLES = "toggle|test_toggle.py::test_toggles"
ALWAYS = "toggle|test_toggle.py::test_always_fails"


@pytest.fixture(params=["visual-studio-code", "neovim@v0.7.0"])
async def tests_bridge(
    request: pytest.FixtureRequest, tox_server: RunningServer, lsp_project: Path
) -> Any:
    options = {"endpoint": tox_server.endpoint, "testEnvs": ["toggle", "broken"]}
    started = await start_bridge(lsp_project, options, profile=request.param)
    try:
        yield started
    finally:
        await stop_bridge(started)


def by_id(nodes: list[Any]) -> dict[str, Any]:
    found = {}
    for node in nodes:
        found[node.id] = node
        found.update(by_id(node.children))
    return found


async def lenses(bridge: Bridge, name: str) -> list[types.CodeLens]:
    found = await bridge.client.text_document_code_lens_async(
        types.CodeLensParams(text_document=types.TextDocumentIdentifier(uri=bridge.uri(name)))
    )
    return list(found or [])


async def test_discover_gives_each_env_its_tree_and_errors(tests_bridge: Bridge) -> None:
    bridge = tests_bridge
    answer = await bridge.request("tox/discover", {})
    toggle, broken = answer.envs
    assert (toggle.env, broken.env) == ("toggle", "broken")
    nodes = by_id(toggle.items)
    file = nodes["toggle|test_toggle.py"]
    assert (file.kind, file.label, file.uri) == (
        "file",
        "test_toggle.py",
        bridge.uri("test_toggle.py"),
    )
    assert [child.id for child in file.children] == [TOGGLES, ALWAYS]
    test = nodes[TOGGLES]
    assert (test.kind, test.label, test.children) == ("function", "test_toggles", [])
    assert test.range.start.line == TOGGLE_DEF - 1
    # `--collect-only` as pytest arguments replaces an env's default ones ({posargs:…}):
    # pytest collects from its rootdir, broken module included (README: discovery)
    assert [error.id for error in toggle.errors] == ["toggle|test_broken.py"]

    [error] = broken.errors
    assert error.id == "broken|test_broken.py"
    assert error.uri == bridge.uri("test_broken.py")
    assert error.range.start.line == 0
    assert "a_module_that_does_not_exist" in error.message
    assert "broken|test_toggle.py" in by_id(broken.items)  # collected beside the error
    # the collection error is a diagnostic too
    found = await bridge.wait_diagnostics(bridge.uri("test_broken.py"))
    assert sorted(d.message.partition(" ")[0] for d in found) == ["[broken]", "[toggle]"]
    assert all("collection failed: ModuleNotFoundError" in d.message for d in found)

    again = await bridge.request("tox/discover", {"env": "toggle"})  # cached
    assert [e.env for e in again.envs] == ["toggle"]
    assert len([r for r in bridge.recorder.runs if r.state == "started"]) == 0


async def test_discover_says_when_tox_itself_failed(tests_bridge: Bridge) -> None:
    [env] = (await tests_bridge.request("tox/discover", {"env": "nosuchenv"})).envs
    assert (env.env, env.items) == ("nosuchenv", [])
    [error] = env.errors
    assert error.id == "nosuchenv"
    assert error.message.startswith("tox -e nosuchenv exited with code ")
    assert "nosuchenv" in error.message.partition("\n")[2]  # tox's own words


async def test_run_tests_runs_exactly_the_ids(tests_bridge: Bridge) -> None:
    bridge = tests_bridge
    await bridge.request("tox/discover", {"env": "toggle"})
    answer = await bridge.request("tox/runTests", {"ids": [ALWAYS]})
    [run] = answer.runs
    assert (run.env, run.exitCode, run.cancelled, run.diagnostics) == ("toggle", 1, False, 1)
    results = bridge.results(run.runId)
    assert set(results) == {ALWAYS}  # test_toggles did not run
    assert results[ALWAYS].state == "failed"
    assert (results[ALWAYS].expected, results[ALWAYS].actual) == ("[1, 3]", "[1, 2]")
    states = [e.state for b in bridge.recorder.results for e in b.results if e.id == ALWAYS]
    assert states[0] == "enqueued"
    started = await bridge.wait_run("started", origin="tests")
    assert started.args[:3] == ["-e", "toggle", "--"]
    assert started.args[3].endswith("/test_toggle.py::test_always_fails")  # absolute
    [diagnostic] = bridge.client.diagnostics[bridge.uri("test_toggle.py")]
    assert diagnostic.range.start.line == ALWAYS_LINE - 1


async def test_run_tests_one_run_per_env(tests_bridge: Bridge) -> None:
    bridge = tests_bridge
    answer = await bridge.request("tox/runTests", {"ids": [TOGGLES, "ok"]})  # "ok": an env
    assert [(r.env, r.exitCode) for r in answer.runs] == [("toggle", 0), ("ok", 0)]
    assert bridge.results(answer.runs[1].runId)["ok|test_ok.py::test_ok"].state == "passed"


async def test_lens_commands_and_lenses_with_their_last_result(tests_bridge: Bridge) -> None:
    bridge = tests_bridge
    # before discovery: the local scan, in the first of testEnvs
    found = await lenses(bridge, "test_toggle.py")
    assert [(lens.range.start.line, lens.command.title) for lens in found if lens.command] == [
        (0, "▶ Run tests in file"),
        (TOGGLE_DEF - 1, "▶ Run test"),
        (ALWAYS_DEF - 1, "▶ Run test"),
    ]
    run_test = found[2].command
    assert run_test is not None
    assert run_test.command == "toxbridge.runTests"
    result: Any = await bridge.client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=run_test.command, arguments=run_test.arguments)
    )
    assert [(r["env"], r["exitCode"]) for r in result["runs"]] == [("toggle", 1)]
    titles = [lens.command.title for lens in await lenses(bridge, "test_toggle.py") if lens.command]
    assert any(title.startswith("✗ failed") and title.endswith(" s") for title in titles), titles
    if bridge.profile == "visual-studio-code":
        assert bridge.recorder.lens_refreshes >= 1

    run_file = found[0].command
    assert run_file is not None
    assert run_file.command == "toxbridge.runFile"
    result = await bridge.client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=run_file.command, arguments=run_file.arguments)
    )
    [run] = result["runs"]
    assert bridge.results(run["runId"])[TOGGLES].state == "passed"
    titles = [lens.command.title for lens in await lenses(bridge, "test_toggle.py") if lens.command]
    assert "✓ passed" in " ".join(titles)


async def test_lenses_come_from_discovery_once_it_ran(tests_bridge: Bridge) -> None:
    bridge = tests_bridge
    await bridge.request("tox/discover", {"env": "toggle"})
    found = await lenses(bridge, "test_toggle.py")
    arguments = [
        argument
        for lens in found
        if lens.command and lens.command.arguments
        for argument in lens.command.arguments[:1]
        if isinstance(argument, dict)
    ]
    ids = [argument["ids"] for argument in arguments if "ids" in argument]
    assert ids == [[TOGGLES], [ALWAYS]]
    assert await lenses(bridge, "tox.ini") == []


@pytest.mark.parametrize("how", ["tox/cancel", "$/cancelRequest"])
async def test_run_tests_is_cancellable(
    tox_server: RunningServer, lsp_project: Path, how: str
) -> None:
    options = {
        "endpoint": tox_server.endpoint,
        "env": {"TOXBRIDGE_USER_RELEASE": str(lsp_project / NEVER_RELEASED)},
    }
    bridge = await start_bridge(lsp_project, options)
    try:
        send = bridge.client.protocol.send_request_async
        params = {"ids": ["late|test_late.py::test_fails_late", "ok"]}
        # pytest-lsp leaves send_request_async unannotated
        request = send("tox/runTests", params, msg_id="tests-to-cancel")  # type: ignore[no-untyped-call]
        running = asyncio.ensure_future(request)
        await bridge.wait_run("started", origin="tests")
        if how == "tox/cancel":
            await bridge.request("tox/cancel", {})
            [run] = (await running).runs  # the env after the cancelled one did not run
            assert run.cancelled
        else:
            cancel = types.CancelParams(id="tests-to-cancel")
            bridge.client.protocol.notify(types.CANCEL_REQUEST, cancel)
            with pytest.raises(JsonRpcRequestCancelled):
                await running
            finished = await bridge.wait_status("finished")
            assert finished.cancelled is True
        assert (await bridge.request("tox/ping", {})).running == []
        assert [r.env for r in bridge.recorder.runs if r.state == "started"] == ["late"]
    finally:
        await stop_bridge(bridge)


async def test_lens_requests_share_one_env_listing_whatever_the_editor_cancels(
    tox_server: RunningServer, lsp_project: Path
) -> None:
    """An editor asks for many files' lenses at once and cancels the stale requests: the
    env list (the server's `tox l`) is asked for once, and a cancelled request does not
    cancel it for the others."""
    options = {"endpoint": tox_server.endpoint, "watch": False}
    bridge = await start_bridge(lsp_project, options)
    try:
        protocol = bridge.client.protocol
        document = types.TextDocumentIdentifier(uri=bridge.uri("test_toggle.py"))
        params = types.CodeLensParams(text_document=document)
        sent = {
            f"lens-{n}": protocol.send_request(
                types.TEXT_DOCUMENT_CODE_LENS, params, msg_id=f"lens-{n}"
            )
            for n in range(4)
        }
        for stale in ("lens-0", "lens-2"):
            protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id=stale))
        answers = [await asyncio.wrap_future(sent[kept]) for kept in ("lens-1", "lens-3")]
        for found in answers:
            titles = [lens.command.title for lens in found if lens.command]
            assert titles.count("▶ Run test") == 2, titles
        assert (await lenses(bridge, "test_early.py")) != []  # cached: no new listing
    finally:
        await stop_bridge(bridge)
    listings = tox_server.log.read_text().count("): ('l',)")
    assert listings == 1, tox_server.log.read_text()
