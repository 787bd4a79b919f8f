"""Watching every run on the server, as a client: `async with client.watch() as watch`.

    async with client.watch(output=False) as watch:    # the server's `ack` has come
        async for watched in watch:                     # protocol.Watched, until left
            message = unwrap(watched)          # the run's own Queued, Started,
            ...                                         # Output, Test or Exit; None: a gap

Each `protocol.Watched` names its run (`run`) and carries the run's message as `event`
(its kind), `header` (its fields) and `data` (its payload); `wire.watched.unwrap` turns it
back into the run's typed message. `event == "gap"` says `dropped` messages about that
run were lost because this watcher read too slowly: the server drops rather than waits
(a watcher never holds up a run), and so does this side, past `MAX_WAITING` messages
that the caller has not taken yet. Runs this client started itself are included.

The watch heartbeats like a run, so the server keeps it; leaving the `async with` ends
it (`cancel {target: watch id}`). A server silent for the liveness raises
`ConnectionLost`, as does one that restarted (`error unknown-run` to a heartbeat).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from collections.abc import AsyncIterator
from types import TracebackType
from typing import TYPE_CHECKING

from toxbridge.errors import ConnectionLost, RemoteError
from toxbridge.wire import protocol

if TYPE_CHECKING:
    from toxbridge.net.client import Client

MAX_WAITING = 10_000
MAX_HEARTBEAT_S = 1.0


class RemoteWatch:
    """One `watch` on the server; see the module's docstring."""

    def __init__(self, client: Client, request: protocol.Watch) -> None:
        self._client = client
        self.request = request
        self.id = request.id
        self.dropped = 0  # lost on this side, in all
        self._waiting: collections.deque[protocol.Watched] = collections.deque()
        self._lost: dict[str, int] = {}
        self._failure: Exception | None = None
        self._arrived = asyncio.Event()
        self._acked: asyncio.Future[protocol.Reply] | None = None
        self._heartbeat: asyncio.Task[None] | None = None

    async def __aenter__(self) -> RemoteWatch:
        self._acked = asyncio.get_running_loop().create_future()
        self._client.register(self.id, self._deliver)
        try:
            await self._client.send(self.request)
            reply = await self._client.answer_or_fail(self._acked, self._client.timeout)
            if isinstance(reply, protocol.Error):
                raise RemoteError(reply.code.value, reply.message)
        except BaseException:
            self._client.unregister(self.id)
            raise
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
        self._client.send_nowait(protocol.Cancel(self._client.new_id(), self.id))
        self._client.unregister(self.id)

    def __aiter__(self) -> AsyncIterator[protocol.Watched]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[protocol.Watched]:
        while True:
            while not self._waiting:
                if self._failure is not None:
                    raise self._failure
                self._arrived.clear()
                await self._wait()
            yield self._waiting.popleft()

    async def _wait(self) -> None:
        liveness = self._client.liveness_s
        remaining = self._client.last_heard + liveness - time.monotonic()
        try:
            async with asyncio.timeout(max(remaining, 0.0)):
                await self._arrived.wait()
        except TimeoutError:
            if time.monotonic() - self._client.last_heard >= liveness:
                raise ConnectionLost(
                    f"the server at {self._client.endpoint} stopped answering for "
                    f"{liveness:g}s while watching; check that it is still running"
                ) from None

    def _deliver(self, reply: protocol.Reply) -> None:
        if self._acked is not None and not self._acked.done():
            if isinstance(reply, protocol.Ack | protocol.Error):
                self._acked.set_result(reply)
            return
        match reply:
            case protocol.Watched():
                self._put(reply)
            case protocol.Error(code=protocol.ErrorCode.UNKNOWN_RUN):
                self._fail(
                    ConnectionLost(
                        f"the server at {self._client.endpoint} no longer knows watch "
                        f"{self.id}: it restarted, or dropped this watcher"
                    )
                )
            case protocol.Error(code=code, message=message):
                self._fail(RemoteError(code.value, message))
            case _:
                pass  # alive: the heartbeat's answer; last_heard has moved

    def _put(self, watched: protocol.Watched) -> None:
        if len(self._waiting) >= MAX_WAITING and watched.event != protocol.GAP:
            self._lost[watched.run] = self._lost.get(watched.run, 0) + 1
            self.dropped += 1
            return
        for run, lost in self._lost.items():
            self._waiting.append(protocol.Watched(self.id, run, protocol.GAP, dropped=lost))
        self._lost.clear()
        self._waiting.append(watched)
        self._arrived.set()

    def _fail(self, error: Exception) -> None:
        self._failure = error
        self._arrived.set()

    async def _heartbeat_loop(self) -> None:
        interval = min(MAX_HEARTBEAT_S, self._client.liveness_s / 4)
        while True:
            await asyncio.sleep(interval)
            self._client.try_send(protocol.Heartbeat(self.id))
