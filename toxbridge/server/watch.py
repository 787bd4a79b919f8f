"""`watch`: clients that see every run on the server, without ever holding one back.

A watcher asks once (`watch {id, output?}`, answered with `ack`) and then gets a `watched`
message for each `queued`, `started`, `test`, `exit` (and, if it asked, `output`) of
every run: the ones running or waiting when it asked (their `started` or `queued`
first), and every later one, its own included.

Nothing here can slow a run. `publish` only appends to each watcher's queue and returns;
a task per watcher sends from it, retrying while the watcher's socket is full. The queue
is bounded in bytes (`max_bytes`): an `output` or `test` message that finds it full is
dropped and counted, and once there is room again a `watched {event: "gap", run,
dropped: n}` takes the lost messages' place. Status messages (queued, started, exit)
are kept beyond the bound, up to `MAX_STATUS` of them, so a watcher that reads again
learns how each run ended. There is no credit: a watcher that reads too slowly loses
output, never the run.

A watcher heartbeats (`heartbeat {id: watch id}`, answered `alive {state: "watching"}`)
like a run's client; one silent for the liveness is dropped, and so is one whose
connection goes away. `cancel {target: watch id}` ends it.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from toxbridge.server.clients import Clients
from toxbridge.wire import protocol
from toxbridge.wire.watched import watched

log = logging.getLogger(__name__)

MAX_BYTES = 8 * 1024 * 1024
MAX_STATUS = 10_000
HEADER_COST = 256  # what a message costs the bound beyond its payload
RETRY_FIRST_S = 0.005
RETRY_MAX_S = 0.1
WATCHED_KINDS = (protocol.Queued, protocol.Started, protocol.Output, protocol.Test, protocol.Exit)
DROPPABLE = (protocol.Output, protocol.Test)


@dataclass(eq=False)
class Watcher:
    """One `watch` request: what waits to be sent to it, and what was dropped."""

    envelope: tuple[bytes, ...]
    id: str
    output: bool
    max_bytes: int
    queue: collections.deque[protocol.Watched] = field(default_factory=collections.deque)
    queued_bytes: int = 0
    status: int = 0  # status messages waiting
    dropped: dict[str, int] = field(default_factory=dict)  # run id → messages lost
    sent: int = 0
    lost: int = 0
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None

    @property
    def client(self) -> bytes:
        return self.envelope[0]

    def put(self, run_id: str, message: protocol.Reply) -> None:
        if isinstance(message, protocol.Output) and not self.output:
            return
        droppable = isinstance(message, DROPPABLE)
        cost = HEADER_COST + len(getattr(message, "data", b""))
        if droppable and self.queued_bytes + cost > self.max_bytes:
            self.dropped[run_id] = self.dropped.get(run_id, 0) + 1
            self.lost += 1
            return
        if not droppable and self.status >= MAX_STATUS:
            self.dropped[run_id] = self.dropped.get(run_id, 0) + 1
            self.lost += 1
            return
        self._flush_gaps()
        self._append(watched(self.id, run_id, message), cost, status=not droppable)

    def _flush_gaps(self) -> None:
        """There is room: the losses so far take their place in the stream."""
        for run_id, dropped in self.dropped.items():
            gap = protocol.Watched(self.id, run_id, protocol.GAP, dropped=dropped)
            self._append(gap, HEADER_COST, status=True)
        self.dropped.clear()

    def _append(self, message: protocol.Watched, cost: int, *, status: bool) -> None:
        self.queue.append(message)
        self.queued_bytes += cost
        self.status += status
        self.ready.set()

    def pop(self) -> protocol.Watched:
        message = self.queue.popleft()
        self.queued_bytes -= HEADER_COST + len(message.data or b"")
        self.status -= message.event not in ("output", "test")
        return message


class Watchers:
    """Every watcher on the server; `clients` sends and says who is gone."""

    def __init__(self, clients: Clients, liveness_s: float, max_bytes: int = MAX_BYTES) -> None:
        self.clients = clients
        self.liveness_s = liveness_s
        self.max_bytes = max_bytes
        self._watchers: dict[tuple[bytes, str], Watcher] = {}
        clients.observers.append(self.publish)
        clients.gone_hooks.append(self.client_gone)

    def __len__(self) -> int:
        return len(self._watchers)

    def find(self, client: bytes, watch_id: str) -> Watcher | None:
        return self._watchers.get((client, watch_id))

    def add(
        self,
        envelope: Sequence[bytes],
        request: protocol.Watch,
        now: Iterable[protocol.Reply],
    ) -> Watcher:
        """Start watching; `now` are the current runs' `started` and `queued` messages."""
        watcher = Watcher(tuple(envelope), request.id, request.output, self.max_bytes)
        self._watchers[(watcher.client, watcher.id)] = watcher
        for message in now:
            watcher.put(message.id or "", message)
        watcher.task = asyncio.create_task(self._send_loop(watcher))
        log.info("watch %s from %s: started", watcher.id, watcher.client.hex()[:16])
        return watcher

    def remove(self, client: bytes, watch_id: str, why: str) -> bool:
        watcher = self._watchers.pop((client, watch_id), None)
        if watcher is None:
            return False
        if watcher.task is not None:
            watcher.task.cancel()
        lost = f", {watcher.lost} message(s) dropped" if watcher.lost else ""
        log.info("watch %s ended (%s): %d sent%s", watch_id, why, watcher.sent, lost)
        return True

    def publish(self, envelope: Sequence[bytes], message: protocol.Reply) -> None:
        """A run's message, as its own client gets it: to every watcher, never waiting."""
        if not self._watchers or not isinstance(message, WATCHED_KINDS):
            return
        for watcher in self._watchers.values():
            watcher.put(message.id, message)

    def client_gone(self, client: bytes) -> None:
        for key in [key for key in self._watchers if key[0] == client]:
            self.remove(*key, why="the connection went away")

    async def watchdog(self) -> None:
        """Drop watchers whose client has been silent for the liveness."""
        interval = min(1.0, self.liveness_s / 4)
        while True:
            await asyncio.sleep(interval)
            deadline = time.monotonic() - self.liveness_s
            for client, watch_id in list(self._watchers):
                if self.clients.last_heard.get(client, 0.0) < deadline:
                    self.remove(client, watch_id, why=f"silent for {self.liveness_s:g}s")

    async def close(self) -> None:
        tasks = [w.task for w in self._watchers.values() if w.task is not None]
        self._watchers.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _send_loop(self, watcher: Watcher) -> None:
        while True:
            if not watcher.queue:
                watcher.ready.clear()
                await watcher.ready.wait()
                continue
            delay = RETRY_FIRST_S
            while not await self.clients.send(watcher.envelope, watcher.queue[0]):
                if self.find(watcher.client, watcher.id) is not watcher:
                    return  # gone meanwhile
                await asyncio.sleep(delay)  # its socket is full: it reads slowly
                delay = min(delay * 2, RETRY_MAX_S)
            watcher.pop()
            watcher.sent += 1
