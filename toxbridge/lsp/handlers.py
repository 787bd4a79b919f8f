"""The LSP methods the bridge answers, registered on a `ToxbridgeServer`."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams
from pygls.uris import to_fs_path

from toxbridge.diagnostics.setup import CONFIG_FILES
from toxbridge.errors import ToxbridgeError
from toxbridge.lsp import handlers_tests, messages
from toxbridge.lsp.debounce import glob_matches
from toxbridge.lsp.server import ToxbridgeServer, command_token, track_command
from toxbridge.lsp.settings import Settings

log = logging.getLogger(__name__)


def build_server(base: Settings) -> ToxbridgeServer:
    server = ToxbridgeServer(base)
    _register_lifecycle(server)
    _register_requests(server)
    _register_commands(server)
    handlers_tests.register(server)
    return server


def _register_lifecycle(server: ToxbridgeServer) -> None:
    @server.feature(types.INITIALIZE)
    def initialize(ls: ToxbridgeServer, params: types.InitializeParams) -> None:
        ls.apply_settings(params.initialization_options)

    @server.feature(types.INITIALIZED)
    def initialized(ls: ToxbridgeServer, params: types.InitializedParams) -> None:
        ls.session.notify_status("idle")
        ls.initialized = True
        ls.watcher.restart()

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    def did_change_configuration(
        ls: ToxbridgeServer, params: types.DidChangeConfigurationParams
    ) -> None:
        ls.apply_settings(params.settings)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE, types.SaveOptions(include_text=False))
    def did_save(ls: ToxbridgeServer, params: types.DidSaveTextDocumentParams) -> None:
        settings = ls.session.settings
        path = to_fs_path(params.text_document.uri) or params.text_document.uri
        if Path(path).name in CONFIG_FILES:
            ls.tests.forget_envs()
        if not settings.run_on_save:
            return
        root = ls.session.workspace_root
        if root is not None and Path(path).is_relative_to(root):
            path = str(Path(path).relative_to(root))
        if glob_matches(path, settings.run_on_save_glob):
            ls.debouncer.trigger(settings.debounce_ms / 1000)

    @server.feature(types.WINDOW_WORK_DONE_PROGRESS_CANCEL)
    def progress_cancel(ls: ToxbridgeServer, params: types.WorkDoneProgressCancelParams) -> None:
        ls.session.cancel_progress(params.token)

    @server.feature(types.SHUTDOWN)
    async def shutdown(ls: ToxbridgeServer, params: None) -> None:
        await ls.debouncer.close()
        await ls.watcher.stop()
        await ls.stop_runs()
        await ls.session.connection.close()


def _register_requests(server: ToxbridgeServer) -> None:
    @server.feature(messages.RUN)
    async def tox_run(ls: ToxbridgeServer, params: messages.RunParams | None) -> dict[str, Any]:
        params = params or messages.RunParams()
        return await ls.run_tracked(params.args, params.env, params.work_done_token)

    @server.feature(messages.CANCEL)
    async def tox_cancel(ls: ToxbridgeServer, params: messages.NoParams | None) -> dict[str, Any]:
        return {"cancelled": await ls.answer(ls.session.cancel)}

    @server.feature(messages.PING)
    async def tox_ping(ls: ToxbridgeServer, params: messages.NoParams | None) -> dict[str, Any]:
        return await ping(ls)

    @server.feature(messages.ENVS)
    async def tox_envs(ls: ToxbridgeServer, params: messages.NoParams | None) -> dict[str, Any]:
        return {"envs": await ls.answer(ls.session.envs)}


async def ping(ls: ToxbridgeServer) -> dict[str, Any]:
    """A probe: an unreachable server is an answer (`connected: false`), not an error."""
    try:
        answer = await ls.session.ping()
    except ToxbridgeError as error:
        return {
            "time": None,
            "version": None,
            "protocol": None,
            "running": [],
            "queued": 0,
            "rttMs": None,
            "connected": False,
            "error": str(error),
        }
    ls.reached_server()
    return answer


def _register_commands(server: ToxbridgeServer) -> None:
    @server.command(messages.COMMAND_RUN)
    async def run_command(ls: ToxbridgeServer, *arguments: Any) -> dict[str, Any]:
        try:
            args, env = messages.command_run_arguments(arguments)
        except ValueError as error:
            raise JsonRpcInvalidParams(str(error)) from None
        track_command(ls)
        return await ls.run_tracked(args, env, command_token())

    @server.command(messages.COMMAND_CANCEL)
    async def cancel_command(ls: ToxbridgeServer, *arguments: Any) -> dict[str, Any]:
        return {"cancelled": await ls.answer(ls.session.cancel)}

    @server.command(messages.COMMAND_PING)
    async def ping_command(ls: ToxbridgeServer, *arguments: Any) -> dict[str, Any]:
        return await ping(ls)

    @server.command(messages.COMMAND_ENVS)
    async def envs_command(ls: ToxbridgeServer, *arguments: Any) -> dict[str, Any]:
        track_command(ls)
        return {"envs": await ls.answer(ls.session.envs)}
