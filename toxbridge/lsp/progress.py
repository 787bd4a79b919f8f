"""Work-done progress for one run: the client's token, or one the bridge creates.

`begin` is cancellable; `end` is always sent (callers use `finally`). A client that
refuses `window/workDoneProgress/create` simply gets no progress.
"""

from __future__ import annotations

import asyncio
import logging
import uuid

from lsprotocol import types
from pygls.lsp.server import LanguageServer

log = logging.getLogger(__name__)

CREATE_TIMEOUT_S = 5.0


class RunProgress:
    def __init__(self, server: LanguageServer, token: types.ProgressToken | None) -> None:
        self._server = server
        self.token = token
        self._last_message: str | None = None
        self._percentage = 0

    @classmethod
    async def open(
        cls, server: LanguageServer, token: types.ProgressToken | None, title: str
    ) -> RunProgress:
        if token is None and _supported(server):
            candidate = f"toxbridge-{uuid.uuid4().hex}"
            try:
                async with asyncio.timeout(CREATE_TIMEOUT_S):
                    await server.work_done_progress.create_async(candidate)
                token = candidate
            except Exception as error:  # refused or unanswered: no progress, still run
                log.info("client gave no progress token: %r", error)
        progress = cls(server, token)
        if token is not None:
            server.work_done_progress.begin(
                token, types.WorkDoneProgressBegin(title=title, cancellable=True, percentage=0)
            )
        return progress

    def report(self, message: str, percentage: int | None = None) -> None:
        # Percentages only go up (the spec wants it); a later tox env restarts pytest's.
        if percentage is not None:
            self._percentage = max(self._percentage, min(percentage, 100))
        if self.token is None or message == self._last_message:
            return
        self._last_message = message
        self._server.work_done_progress.report(
            self.token,
            types.WorkDoneProgressReport(
                message=message, cancellable=True, percentage=self._percentage
            ),
        )

    def end(self, message: str) -> None:
        if self.token is not None:
            self._server.work_done_progress.end(
                self.token, types.WorkDoneProgressEnd(message=message)
            )
            self.token = None


def _supported(server: LanguageServer) -> bool:
    window = server.client_capabilities.window
    return bool(window and window.work_done_progress)
