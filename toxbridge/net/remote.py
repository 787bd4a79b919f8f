"""One run on the server, as its client sees it: events in, credit and heartbeats out.

Credit for a flow-controlled message (`protocol.FLOW_CONTROLLED`) is granted only once
the caller has handled it, that is when it asks for the next event: a caller that
cannot get rid of its output (a slow terminal, a pager) stops granting, and the server
stops reading tox's pipe. Heartbeats go on meanwhile, at a quarter of the shorter of
this client's and the server's liveness, so a slow caller is never taken for a dead one.
Credit and heartbeats never wait for the server: if they cannot go now, credit is kept
for the next try, and a server that stays silent for the liveness ends the run with
`ConnectionLost`, once the caller has had every event that arrived before.

A run asked with `events=True` also yields `protocol.Test` messages (test event records,
see `Test.records()`), in their place among the output, when `started.events` is true.

A run can be paused (the CLI on ^Z): the server keeps it while the connection lasts, and
the silence of a stopped process is not held against either side.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable
from types import TracebackType
from typing import TYPE_CHECKING, TypeAlias

from toxbridge.errors import ConnectionLost, RemoteError
from toxbridge.wire import protocol

if TYPE_CHECKING:
    from toxbridge.net.client import Client

log = logging.getLogger(__name__)

RunEvent: TypeAlias = (
    protocol.Queued | protocol.Started | protocol.Output | protocol.Test | protocol.Exit
)
MAX_HEARTBEAT_S = 1.0
PAUSE_ACK_S = 1.0  # how long a client about to stop waits for the server to note it


async def _first_of_two(
    reply: Awaitable[protocol.Reply], up: Awaitable[None]
) -> protocol.Reply | None:
    """The reply, or None if the connection comes up first."""
    replied, came_up = asyncio.ensure_future(reply), asyncio.ensure_future(up)
    try:
        await asyncio.wait({replied, came_up}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (replied, came_up):
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
    return replied.result() if replied.done() and not replied.cancelled() else None


class RemoteRun:
    """One run on the server: `async with client.run(args) as run: async for event in run`."""

    def __init__(self, client: Client, request: protocol.Run) -> None:
        self._client = client
        self.request = request
        self.id = request.id
        self.result: protocol.Exit | None = None
        self.started: protocol.Started | None = None
        self.paused = False
        self.server_liveness_s: float | None = None
        self._events: asyncio.Queue[protocol.Reply] = asyncio.Queue()
        client.register(request.id, self._deliver)
        self._next_seq = 0
        self._handed_out = False  # the last event given to the caller was flow-controlled
        self._owed = 0  # handled flow-controlled messages not yet granted back as credit
        self._heartbeat: asyncio.Task[None] | None = None
        self._retimed = asyncio.Event()  # the heartbeat interval changed, or a resume
        self._pause_noted = asyncio.Event()
        self._answered = False
        self._sent_at = self._resumed_at = time.monotonic()

    async def __aenter__(self) -> RemoteRun:
        try:
            await self._client.send(self.request)
        except BaseException:
            self._client.unregister(self.id)
            raise
        self._sent_at = time.monotonic()
        self._heartbeat = asyncio.create_task(self._heartbeat_loop())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat
        if self.result is None:  # left early: do not leave tox running for nobody
            self._client.send_nowait(protocol.Cancel(self._client.new_id(), self.id))
        self._client.unregister(self.id)

    def __aiter__(self) -> AsyncIterator[RunEvent]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[RunEvent]:
        while self.result is None:
            event = await self._next_event()
            if isinstance(event, protocol.FLOW_CONTROLLED):
                self._check_order(event)
                self._handed_out = True
            elif isinstance(event, protocol.Queued | protocol.Started):
                self._learn_liveness(event.liveness_s)
                if isinstance(event, protocol.Started):
                    self.started = event
            elif isinstance(event, protocol.Exit):
                self.result = event
            yield event

    async def cancel(self) -> tuple[str, ...]:
        return await self._client.cancel(self.id)

    # -- pausing -------------------------------------------------------------------------

    async def pause(self) -> bool:
        """Tell the server this client is about to stop; True once it has noted that."""
        self.paused = True
        self._pause_noted.clear()
        if not self._client.try_send(protocol.Pause(self.id)):
            return False
        try:
            async with asyncio.timeout(PAUSE_ACK_S):
                await self._pause_noted.wait()
        except TimeoutError:
            return False
        return True

    def resume(self) -> None:
        """Back from a pause: the time stopped is no one's silence."""
        self.paused = False
        self._resumed_at = time.monotonic()
        self._client.try_send(protocol.Resume(self.id))
        self._retimed.set()

    # -- receiving -------------------------------------------------------------------------

    def _deliver(self, reply: protocol.Reply) -> None:
        self._answered = True
        match reply:
            case protocol.Alive(state=state):
                if state == "paused":
                    self._pause_noted.set()
            case protocol.Error(code=protocol.ErrorCode.UNKNOWN_KIND):
                # an older server that knows no pause/resume: it will not keep the run
                log.info("the server does not know pause/resume: %s", reply.message)
                self._pause_noted.set()
            case _:
                self._events.put_nowait(reply)

    async def _next_event(self) -> RunEvent:
        self._acknowledge()
        while True:
            reply = self._events.get_nowait() if not self._events.empty() else await self._wait()
            match reply:
                case (
                    protocol.Queued()
                    | protocol.Started()
                    | protocol.Output()
                    | protocol.Test()
                    | protocol.Exit()
                ):
                    return reply
                case protocol.Error(code=protocol.ErrorCode.UNKNOWN_RUN):
                    raise ConnectionLost(
                        f"the server at {self._client.endpoint} no longer knows run "
                        f"{self.id}: it restarted mid-run. Run again."
                    )
                case protocol.Error(code=code, message=message):
                    raise RemoteError(code.value, message)

    async def _wait(self) -> protocol.Reply:
        """The next reply: within the timeout while no server is known to be there, then
        within the liveness (a server that is there may take a while to start tox, and
        answers heartbeats meanwhile)."""
        watch = self._client.connection
        while True:
            connecting = not self._answered and not watch.up
            if connecting:
                since, limit = self._sent_at, self._client.timeout
            elif not self._answered:
                since, limit = self._sent_at, self._client.liveness_s
            else:
                since, limit = self._client.last_heard, self._client.liveness_s
            remaining = max(since, self._resumed_at) + limit - time.monotonic()
            if remaining <= 0 and not self.paused:
                raise self._silence(limit)
            try:
                if connecting:
                    answer = _first_of_two(self._events.get(), watch.wait_up())
                    reply = await self._client.answer_or_fail(answer, remaining, limit)
                    if reply is None:
                        continue  # the connection is up: the liveness applies now
                    return reply
                async with asyncio.timeout(None if self.paused else remaining):
                    return await self._events.get()
            except TimeoutError:
                continue  # look again: a reply, a pause or a resume may have moved the deadline

    def _silence(self, limit: float) -> Exception:
        if not self._answered and not self._client.connection.up:
            return self._client.connection.timed_out(limit)
        return ConnectionLost(
            f"the server at {self._client.endpoint} stopped answering for {limit:g}s "
            f"during run {self.id}; check that it is still running"
        )

    def _check_order(self, event: protocol.FlowControlled) -> None:
        if event.seq != self._next_seq:
            raise ConnectionLost(
                f"output of run {self.id} arrived out of order (got {event.seq}, "
                f"expected {self._next_seq}); refusing to show partial output"
            )
        self._next_seq += 1

    def _learn_liveness(self, liveness_s: float | None) -> None:
        if liveness_s is not None and liveness_s != self.server_liveness_s:
            self.server_liveness_s = liveness_s
            self._retimed.set()

    # -- sending ---------------------------------------------------------------------------

    def _acknowledge(self) -> None:
        """The caller is back for more: the event it had is handled."""
        if self._handed_out:
            self._handed_out = False
            self._owed += 1
            if self._owed >= max(1, self._client.credit_window // 2):
                self._grant()

    def _grant(self) -> None:
        if self._owed and self._client.try_send(protocol.Credit(self.id, self._owed)):
            self._owed = 0

    def heartbeat_interval(self) -> float:
        livenesses = [self._client.liveness_s, self.server_liveness_s or self._client.liveness_s]
        return min(MAX_HEARTBEAT_S, *(liveness / 4 for liveness in livenesses))

    async def _heartbeat_loop(self) -> None:
        while True:
            self._retimed.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.heartbeat_interval()):
                    await self._retimed.wait()
            if self.result is not None:
                return  # the run is over (its caller may still be writing its output)
            if not self.paused:
                self._client.try_send(protocol.Heartbeat(self.id))
                self._grant()  # what could not go before, and what a slow caller handled
