"""The LSP methods for tests in the editor: `tox/discover`, `tox/runTests`, the commands
`toxbridge.runTests` and `toxbridge.runFile`, and `textDocument/codeLens`."""

from __future__ import annotations

from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams

from toxbridge.lsp import messages
from toxbridge.lsp.server import ToxbridgeServer, command_token, track_command
from toxbridge.lsp.testing.lenses import Lens


def register(server: ToxbridgeServer) -> None:
    @server.feature(messages.DISCOVER)
    async def discover(ls: ToxbridgeServer, params: messages.DiscoverParams | None) -> Any:
        params = params or messages.DiscoverParams()
        return await ls.answer(lambda: ls.tests.discover(params.env, params.refresh))

    @server.feature(messages.RUN_TESTS)
    async def run_tests(ls: ToxbridgeServer, params: messages.RunTestsParams | None) -> Any:
        params = params or messages.RunTestsParams()
        if not params.ids:
            raise JsonRpcInvalidParams("tox/runTests: 'ids' names no test")
        return await ls.run_tests(params.ids, params.env, params.work_done_token)

    @server.command(messages.COMMAND_RUN_TESTS)
    async def run_tests_command(ls: ToxbridgeServer, *arguments: Any) -> Any:
        try:
            ids, env = messages.command_run_tests_arguments(arguments)
        except ValueError as error:
            raise JsonRpcInvalidParams(str(error)) from None
        track_command(ls)
        return await ls.run_tests(ids, env, command_token())

    @server.command(messages.COMMAND_RUN_FILE)
    async def run_file_command(ls: ToxbridgeServer, *arguments: Any) -> Any:
        try:
            uri, env = messages.command_run_file_arguments(arguments)
        except ValueError as error:
            raise JsonRpcInvalidParams(str(error)) from None
        track_command(ls)
        return await ls.tracked(lambda: ls.tests.run_file(uri, env, command_token()))

    @server.feature(types.TEXT_DOCUMENT_CODE_LENS)
    async def code_lens(ls: ToxbridgeServer, params: types.CodeLensParams) -> list[types.CodeLens]:
        return [to_lsp(lens) for lens in await ls.tests.lenses(params.text_document.uri)]


def to_lsp(lens: Lens) -> types.CodeLens:
    start = types.Position(line=lens.line, character=0)
    return types.CodeLens(
        range=types.Range(start=start, end=start),
        command=types.Command(
            title=lens.title, command=lens.command, arguments=[dict(a) for a in lens.arguments]
        ),
    )
