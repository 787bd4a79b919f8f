"""The server's side of each client: sending without blocking, and noticing who is gone.

Every send is non-blocking. A reply that finds its client's queue full is dropped (a
client that reads nothing cannot be answered anyway); a flow-controlled message (output)
waits for room, but never longer than the send deadline: then that client's runs are
abandoned. A cancelled run waits at most `CANCEL_STALL_S`, so cancel and `quit --now`
end a run whatever its client does. The socket's high-water mark bounds what one client
can make the server hold: SEND_HWM messages of at most 256 KiB.

The watchdog cancels a run whose client has been silent for the liveness, except while
the client says it is paused (^Z); a paused client's connection is probed instead, so a
run whose client was killed while stopped ends too.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import time
from collections.abc import Callable, Sequence

import zmq
import zmq.asyncio

from toxbridge.server.execute import reject_queued
from toxbridge.server.queue import CANCEL_STALL_S, ActiveRun, RunQueue
from toxbridge.wire import protocol

log = logging.getLogger(__name__)

# Far above the credit window (so output of a reading client never meets it), low enough
# that a client that grants credit and reads nothing holds at most ~32 MiB here.
SEND_HWM = 128
RETRY_FIRST_S = 0.005
RETRY_MAX_S = 0.1


class Clients:
    """Sends to clients and watches them; `socket` is set once the server has bound."""

    def __init__(self, queue: RunQueue, liveness_s: float, send_timeout_s: float) -> None:
        self.queue = queue
        self.liveness_s = liveness_s
        self.send_timeout_s = send_timeout_s
        self.socket: zmq.asyncio.Socket | None = None
        self.last_heard: dict[bytes, float] = {}
        # told of every reply as it goes out, and of every client that is gone (`watch`)
        self.observers: list[Callable[[Sequence[bytes], protocol.Reply], None]] = []
        self.gone_hooks: list[Callable[[bytes], None]] = []

    def heard(self, client: bytes) -> None:
        self.last_heard[client] = time.monotonic()

    async def send(self, envelope: Sequence[bytes], message: protocol.Reply) -> bool:
        """Send without ever blocking the server; False if the message did not go."""
        for observer in self.observers:
            observer(envelope, message)
        frames = [*envelope, *protocol.encode(message)]
        delay, deadline = RETRY_FIRST_S, None
        while (socket := self.socket) is not None:
            try:
                await socket.send_multipart(frames, flags=zmq.NOBLOCK, copy=False)
                return True
            except zmq.Again:
                run = self._flow_controlled_run(envelope[0], message)
                if run is None:
                    log.debug("client %s is not reading; dropped a reply", envelope[0].hex()[:16])
                    return False
                now = time.monotonic()
                if deadline is None:
                    log.info(
                        "run %s: its client takes no output now; holding it for up to %gs",
                        run.id,
                        self.send_timeout_s,
                    )
                    deadline = now + self.send_timeout_s
                if run.cancel_requested.is_set():
                    deadline = min(deadline, now + CANCEL_STALL_S)
                if now >= deadline:
                    self._not_reading(run)
                    return False
                await run.wait_cancelled(delay)
                delay = min(delay * 2, RETRY_MAX_S)
            except zmq.ZMQError as error:
                if error.errno != errno.EHOSTUNREACH:
                    raise
                self.client_gone(envelope[0])
                return False
        return False

    def _flow_controlled_run(self, client: bytes, message: protocol.Reply) -> ActiveRun | None:
        """The run whose output `message` is, if it is worth waiting for room."""
        if not isinstance(message, protocol.FLOW_CONTROLLED):
            return None
        run = self.queue.find(client, message.id)
        if run is None or run.abandoned or run.discarding:
            return None
        return run

    def _not_reading(self, run: ActiveRun) -> None:
        if run.cancel_requested.is_set():
            log.warning("run %s: cancelled and its client takes no output; discarding", run.id)
            run.discarding = True
            return
        seconds = self.send_timeout_s
        log.warning(
            "client %s took no output for %gs: abandoning its runs", run.client.hex()[:16], seconds
        )
        detail = f"abandoned: this client took no output for {seconds:g}s (a server limit)"
        for each in [r for r in self.queue if r.client == run.client]:
            self.abandon(each, protocol.EndReason.LIMIT, detail)

    def client_gone(self, client: bytes) -> None:
        for hook in self.gone_hooks:
            hook(client)
        for run in [run for run in self.queue if run.client == client and not run.abandoned]:
            log.warning("run %s: client disconnected, cancelling", run.id)
            self.abandon(run, protocol.EndReason.DISCONNECTED, "the connection went away")

    def abandon(self, run: ActiveRun, reason: protocol.EndReason, detail: str) -> None:
        """End `run` for a client that is gone or hopeless: its output is discarded."""
        run.cancel(abandon=True, reason=reason, detail=detail)
        if run is not self.queue.current:
            self.queue.remove(run)

    async def watchdog(self) -> None:
        interval = min(1.0, self.liveness_s / 4)
        probed: dict[str, float] = {}
        while True:
            await asyncio.sleep(interval)
            now = time.monotonic()
            for run in list(self.queue):
                if run.abandoned:
                    continue
                if run.paused:
                    if now - probed.get(run.id, 0.0) >= self.liveness_s:
                        probed[run.id] = now
                        await self.send(run.envelope, protocol.Alive(run.id, "paused"))
                elif not run.cancel_requested.is_set() and (
                    self.last_heard.get(run.client, 0.0) < now - self.liveness_s
                ):
                    await self._silent(run)
            self._forget(now - self.liveness_s)

    async def _silent(self, run: ActiveRun) -> None:
        """Cancel the run of a silent client, yet tell it why: a client that was stopped
        without saying so (SIGSTOP) and comes back learns what happened."""
        log.warning("run %s: client silent for %.1fs, cancelling", run.id, self.liveness_s)
        detail = (
            f"cancelled: the server heard nothing from this client for {self.liveness_s:g}s "
            "(was it stopped or hung?)"
        )
        run.cancel(reason=protocol.EndReason.LIVENESS, detail=detail)
        if run is not self.queue.current:
            self.queue.remove(run)
            await reject_queued(run, self.send)

    def _forget(self, deadline: float) -> None:
        active = {run.client for run in self.queue}
        for client, heard in list(self.last_heard.items()):
            if client not in active and heard < deadline:
                del self.last_heard[client]
