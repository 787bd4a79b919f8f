"""The bridge watches the server (setting `watch`, on by default): runs started anywhere
else — `toxbridge run` in a terminal, another editor — reach this editor as they do for
its own runs: diagnostics, `tox/testRun` (origin "watch"), `tox/testResults`, `tox/output`.

The watch asks for output too, so that a run without test events (a terminal's
`toxbridge run` asks for them only for its summary or `--report-log`) still gives
diagnostics through the text parser. The bridge's own runs are in the watch too, and
skipped: their relay is the request's. A gap (the server dropped messages for a slow
watcher) makes that run's results incomplete: its end then clears nothing. The bridge
tells the editor `tox/watch {state: "watching" | "stopped", error?}`; when the server
cannot be reached it tries again every RETRY_S.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from toxbridge.errors import ProtocolError, ToxbridgeError
from toxbridge.lsp.messages import WATCH
from toxbridge.lsp.progress import RunProgress
from toxbridge.lsp.relay import Relay
from toxbridge.wire import protocol
from toxbridge.wire.watched import unwrap

if TYPE_CHECKING:
    from toxbridge.lsp.session import Session

log = logging.getLogger(__name__)

RETRY_S = 5.0
_RUN_EVENTS = (protocol.Queued, protocol.Started, protocol.Output, protocol.Test, protocol.Exit)


class Watcher:
    def __init__(self, session: Session) -> None:
        self.session = session
        self._task: asyncio.Task[None] | None = None
        self._relays: dict[str, Relay] = {}
        self._closing: set[asyncio.Task[None]] = set()

    def restart(self) -> None:
        """Follow the settings: (re)connect with the current ones, or stop watching."""
        self.stop_soon()
        if self.session.settings.watch:
            self._task = asyncio.create_task(self._watch_forever())

    def stop_soon(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await asyncio.gather(*self._closing, return_exceptions=True)

    async def _watch_forever(self) -> None:
        told: str | None = None
        while True:
            try:
                await self._watch()
            except ToxbridgeError as error:
                if str(error) != told:  # said once while it stays the same
                    told = str(error)
                    log.info("not watching the server: %s", error)
                    self._notify("stopped", error=told)
            finally:
                self._end_all()
            await asyncio.sleep(RETRY_S)  # a pause before trying again, not a wait for an event

    async def _watch(self) -> None:
        session = self.session
        async with (
            session.connection.use(session.key()) as client,
            client.watch(output=True) as watch,
        ):
            self._notify("watching")
            async for watched in watch:
                self._handle(watched)

    def _notify(self, state: str, **fields: Any) -> None:
        self.session.server.protocol.notify(WATCH, {"state": state, **fields})

    def _handle(self, watched: protocol.Watched) -> None:
        if watched.run in self.session.own_runs:
            return
        try:
            message = unwrap(watched)
        except ProtocolError as error:
            log.info("ignoring a watched message of run %s: %s", watched.run, error)
            return
        relay = self._relays.get(watched.run)
        if message is None:  # a gap
            if relay is not None:
                relay.lossy = True
            return
        if not isinstance(message, _RUN_EVENTS):
            return
        if relay is None:
            if not isinstance(message, protocol.Queued | protocol.Started):
                return  # a run that ended before we knew it
            relay = self._relays[watched.run] = self._new_relay(watched.run)
        relay.handle(message)
        if isinstance(message, protocol.Exit):
            self._end(watched.run)

    def _new_relay(self, run_id: str) -> Relay:
        relay = Relay(self.session, RunProgress(self.session.server, None), origin="watch")
        relay.run_id = run_id
        relay.start_ticking()
        return relay

    def _end(self, run_id: str) -> None:
        relay = self._relays.pop(run_id)
        task = asyncio.create_task(relay.close())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    def _end_all(self) -> None:
        for run_id in list(self._relays):
            self._end(run_id)
