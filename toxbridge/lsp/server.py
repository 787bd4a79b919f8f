"""The pygls language server: protocol hardening, settings and the request handlers.

Every request that reaches the toxbridge server goes through `_answer`, which turns a
`ToxbridgeError` into a JSON-RPC error with the same actionable sentence and shows it
once with `window/showMessage`.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
from collections.abc import Awaitable, Callable, Generator, Mapping
from typing import Any, TypeVar

import cattrs
from lsprotocol import types
from pygls.exceptions import (
    JsonRpcException,
    JsonRpcInvalidParams,
    JsonRpcParseError,
    JsonRpcServerError,
)
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol, lsp_method

from toxbridge import __version__
from toxbridge.errors import (
    ConfigError,
    ConnectionLost,
    RemoteError,
    ServerUnreachable,
    ToxbridgeError,
)
from toxbridge.lsp import messages
from toxbridge.lsp.debounce import Debouncer
from toxbridge.lsp.session import Session
from toxbridge.lsp.settings import Settings, editor_layer, resolve
from toxbridge.lsp.tests import Tests
from toxbridge.lsp.watcher import Watcher

log = logging.getLogger(__name__)

T = TypeVar("T")

# The work-done token of the executeCommand request being handled: pygls hands command
# handlers only the arguments, but they run in a copy of this context.
_COMMAND_TOKEN: contextvars.ContextVar[types.ProgressToken | None] = contextvars.ContextVar(
    "toxbridge_command_token", default=None
)

_ERROR_CODES: dict[type[ToxbridgeError], int] = {
    ServerUnreachable: -32001,
    ConnectionLost: -32002,
    RemoteError: -32003,
    ConfigError: -32004,
}


class _UserErrorsWithoutTraceback(logging.Filter):
    """pygls logs every failed request with a traceback; an error `answer` raised on
    purpose is a user's problem with a sentence of its own, not a bug: one line is enough."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, JsonRpcServerError) and error.code in _ERROR_CODES.values():
            record.msg, record.args = "request failed: %s", (error.message,)
            record.exc_info, record.exc_text, record.levelno = None, None, logging.INFO
            record.levelname = "INFO"
        return True


logging.getLogger("pygls.protocol.json_rpc").addFilter(_UserErrorsWithoutTraceback())


class _Answered(Exception):
    """A message that could not be structured; its error response has been sent."""


class ToxbridgeProtocol(LanguageServerProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.command_tasks: dict[str | int, asyncio.Task[Any]] = {}

    # The base caches with lru_cache; a dict lookup needs no cache.
    def get_message_type(self, method: str) -> type[Any] | None:  # type: ignore[override]
        return messages.MESSAGE_TYPES.get(method) or super().get_message_type(method)

    def _serialize_message(self, data: Any) -> Any:
        result = getattr(data, "result", None)
        if isinstance(result, messages.PlainJson) and hasattr(data, "id"):
            return {"id": data.id, "result": result, "jsonrpc": data.jsonrpc}
        return super()._serialize_message(data)

    def structure_message(self, data: dict[str, Any]) -> Any:
        try:
            return super().structure_message(data)
        except JsonRpcException as error:
            if "id" not in data or "method" not in data:
                raise
            cause = error.__cause__
            detail = (
                "; ".join(cattrs.transform_error(cause))
                if isinstance(cause, cattrs.ClassValidationError)
                else error.message
            )
            self._send_response(
                data["id"],
                error=JsonRpcInvalidParams(
                    f"bad params for {data['method']}: {detail}"
                ).to_response_error(),
            )
            raise _Answered(data["method"]) from error

    @lsp_method(types.WORKSPACE_EXECUTE_COMMAND)
    def lsp_workspace__execute_command(
        self, params: types.ExecuteCommandParams
    ) -> Generator[Any, Any, Any]:
        _COMMAND_TOKEN.set(params.work_done_token)
        return (yield from super().lsp_workspace__execute_command(params))

    def _handle_cancel_notification(self, msg_id: str | int) -> None:
        # pygls cancels a command's outer future only; the command's own task runs on.
        task = self.command_tasks.pop(msg_id, None)
        super()._handle_cancel_notification(msg_id)
        if task is not None:
            task.cancel()


class ToxbridgeServer(LanguageServer):
    protocol: ToxbridgeProtocol

    def __init__(self, base: Settings) -> None:
        super().__init__(
            "toxbridge",
            __version__,
            text_document_sync_kind=types.TextDocumentSyncKind.None_,
            protocol_cls=ToxbridgeProtocol,
        )
        self.base = base
        self.editor: Mapping[str, Any] | None = None
        self.session = Session(self, base)
        self.tests = Tests(self.session)
        self.watcher = Watcher(self.session)
        self.initialized = False  # the watch starts once the client said `initialized`
        self.runs: set[asyncio.Task[Any]] = set()  # runs of this bridge, for run-on-save
        self.debouncer = Debouncer(self.stop_runs, self.start_save_run)
        self._last_shown: str | None = None
        self._told_unreachable = False  # said once while the server stays down

    def report_server_error(self, error: Exception, source: Any) -> None:
        if isinstance(error, _Answered):
            return
        if isinstance(error, json.JSONDecodeError):
            # Not even the request id can be read: JSON-RPC says answer with id null.
            self.protocol._send_data(
                {
                    "jsonrpc": "2.0",
                    "id": None,
                    "error": {"code": JsonRpcParseError.CODE, "message": f"Parse error: {error}"},
                }
            )
            return
        super().report_server_error(error, source)

    def show_error(self, message: str, *, repeat: bool = True) -> None:
        if not repeat and message == self._last_shown:
            return
        self._last_shown = message
        self.window_show_message(
            types.ShowMessageParams(type=types.MessageType.Error, message=f"toxbridge: {message}")
        )

    def apply_settings(self, editor: Any) -> None:
        """Recompute the settings with a new editor layer; a bad value keeps the old ones."""
        layer = editor_layer(editor)
        try:
            settings = resolve(self.base, self.session.workspace_root, layer)
        except ConfigError as error:
            self.show_error(str(error))
            return
        self.editor = layer
        before, self.session.settings = self.session.settings, settings
        log.info("settings: %s", settings)
        if self.initialized and _watch_key(before) != _watch_key(settings):
            self.watcher.restart()

    async def answer(self, work: Callable[[], Awaitable[T]], *, repeat: bool = True) -> T:
        try:
            result = await work()
        except ToxbridgeError as error:
            if not isinstance(error, ServerUnreachable):
                self.show_error(str(error), repeat=repeat)
            elif not self._told_unreachable:
                self._told_unreachable = True
                self.show_error(str(error))
            code = next((c for t, c in _ERROR_CODES.items() if isinstance(error, t)), -32000)
            # pygls leaves this constructor unannotated
            raise JsonRpcServerError(str(error), code) from None  # type: ignore[no-untyped-call]
        self.reached_server()
        return result

    def reached_server(self) -> None:
        """The server answered: the next failure is news again."""
        self._last_shown = None
        self._told_unreachable = False

    async def tracked(self, work: Callable[[], Awaitable[T]], *, repeat: bool = True) -> T:
        """`answer(work)` as one of this bridge's runs: run-on-save and shutdown stop it."""
        task = asyncio.current_task()
        if task is not None:
            self.runs.add(task)
        try:
            return await self.answer(work, repeat=repeat)
        finally:
            if task is not None:
                self.runs.discard(task)

    async def run_tracked(
        self,
        args: list[str] | None,
        env: dict[str, str] | None,
        token: types.ProgressToken | None,
        *,
        repeat: bool = True,
        origin: str = "run",
    ) -> dict[str, Any]:
        result = await self.tracked(
            lambda: self.session.run(args, env, token, origin), repeat=repeat
        )
        return result.to_json()

    async def run_tests(
        self, ids: list[str], env: str | None, token: types.ProgressToken | None
    ) -> dict[str, Any]:
        try:
            work = self.tests.run(ids, env, token)
        except ValueError as error:
            raise JsonRpcInvalidParams(str(error)) from None
        return await self.tracked(lambda: work)

    async def stop_runs(self) -> None:
        """Cancel this bridge's runs in flight and wait until they have stopped."""
        tasks = [task for task in self.runs if task is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def start_save_run(self) -> None:
        settings = self.session.settings
        task = asyncio.create_task(
            self.run_tracked(list(settings.save_args), None, None, repeat=False, origin="save")
        )
        self.session.active.add(task)
        task.add_done_callback(_log_outcome(self.session.active))


def _watch_key(settings: Settings) -> tuple[Any, ...]:
    return (settings.watch, settings.endpoint, settings.keys, settings.timeout_s)


def _log_outcome(owner: set[asyncio.Task[Any]]) -> Callable[[asyncio.Task[Any]], None]:
    def done(task: asyncio.Task[Any]) -> None:
        owner.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.info("run-on-save run failed: %s", task.exception())

    return done


def command_token() -> types.ProgressToken | None:
    return _COMMAND_TOKEN.get()


def track_command(ls: ToxbridgeServer) -> None:
    """So that `$/cancelRequest` of the executeCommand request reaches this task."""
    task, msg_id = asyncio.current_task(), ls.protocol.msg_id
    if task is not None and msg_id is not None:
        ls.protocol.command_tasks[msg_id] = task
        task.add_done_callback(lambda _: ls.protocol.command_tasks.pop(msg_id, None))
