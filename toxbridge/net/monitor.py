"""What a socket's monitor says about its connections, for asyncio sockets.

A client's `ConnectionWatch` feeds its socket's monitor events to a `ConnectionState`
(net.verdict: refused, not a toxbridge server, keys that do not match, a key the server
does not know) and lets requests wait for the verdict, so a request fails the moment it
is known instead of after its timeout.

A server's `watch_refusals` logs refused handshakes: one line per client host per
minute, however often that client's socket retries.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import TypeAlias

import zmq
import zmq.asyncio
from zmq.utils.monitor import parse_monitor_message

from toxbridge.errors import ToxbridgeError
from toxbridge.net.verdict import (
    CLIENT_EVENTS,
    HANDSHAKE_FAILURES,
    MISMATCH,
    PROBE_S,
    ConnectionState,
    is_zmtp_greeting,
)

log = logging.getLogger(__name__)

REFUSAL_LOG_INTERVAL_S = 60.0

Handler: TypeAlias = Callable[[zmq.Event, int, str], None]  # event, value, peer endpoint


class ConnectionWatch:
    """A client socket's `ConnectionState`, kept current by its monitor, that requests
    can wait on: for the connection to come up, or for an attempt to fail."""

    def __init__(self, endpoint: str, *, has_keys: bool) -> None:
        self.endpoint = endpoint
        self.state = ConnectionState(endpoint, has_keys=has_keys)
        self._waiting: list[asyncio.Future[ToxbridgeError]] = []
        self._probe: asyncio.Task[None] | None = None
        self._up = asyncio.Event()

    @property
    def up(self) -> bool:
        return self.state.up

    @property
    def failure(self) -> ToxbridgeError | None:
        return self.state.failure

    def handle(self, event: zmq.Event, value: int, peer: str = "") -> None:
        had = self.state.failure
        if self.state.handle(event, value) and (self._probe is None or self._probe.done()):
            self._probe = asyncio.create_task(self._tell_apart())
        if self.state.up:
            self._up.set()
        else:
            self._up.clear()
        if self.state.failure is not None and self.state.failure is not had:
            self._tell(self.state.failure)

    def _tell(self, failure: ToxbridgeError) -> None:
        log.debug("client: %s", failure)
        # each waiter learns the first failure it saw: a retry may fail differently
        for waiter in self._waiting:
            if not waiter.done():
                waiter.set_result(failure)
        self._waiting.clear()

    async def _tell_apart(self) -> None:
        """Does a ZMQ peer listen there? It greets every connection at once (ZMTP)."""
        failure = self.state.probed(await greets_with_zmtp(self.endpoint))
        if failure is not None:
            self._tell(failure)

    def close(self) -> None:
        if self._probe is not None:
            self._probe.cancel()

    def timed_out(self, seconds: float) -> ToxbridgeError:
        """The error for a request that got no answer within `seconds`."""
        return self.state.timed_out(seconds)

    async def wait_up(self) -> None:
        """Until a handshake with the server has succeeded (at once if it stands now)."""
        await self._up.wait()

    async def failed(self) -> ToxbridgeError:
        """Wait until an attempt to connect fails for good (from now on, unless the last
        failure was final); its error. Each retry of zmq's comes within 100 ms."""
        if self.state.failure is not None and self.state.final:
            return self.state.failure
        waiter: asyncio.Future[ToxbridgeError] = asyncio.get_running_loop().create_future()
        self._waiting.append(waiter)
        try:
            return await waiter
        finally:
            with contextlib.suppress(ValueError):
                self._waiting.remove(waiter)


@contextlib.asynccontextmanager
async def watch_connection(
    socket: zmq.asyncio.Socket, watch: ConnectionWatch
) -> AsyncIterator[None]:
    """Keep `watch` current from `socket`'s monitor while the block runs."""
    try:
        async with _monitor(socket, CLIENT_EVENTS, watch.handle):
            yield
    finally:
        watch.close()


async def greets_with_zmtp(endpoint: str, within: float = PROBE_S) -> bool:
    """True when what listens at `endpoint` sends a ZMTP signature as soon as it accepts
    (0xFF, 8 bytes, 0x7F: every ZMQ peer does, before anything else)."""
    transport, _, address = endpoint.partition("://")
    try:
        async with asyncio.timeout(within):
            if transport == "ipc":
                reader, writer = await asyncio.open_unix_connection(address)
            else:
                host, _, port = address.rpartition(":")
                reader, writer = await asyncio.open_connection(host.strip("[]"), int(port))
            try:
                signature = await reader.readexactly(10)
            finally:
                writer.close()
    except (OSError, ValueError, TimeoutError, asyncio.IncompleteReadError):
        return False
    return is_zmtp_greeting(signature)


@contextlib.asynccontextmanager
async def watch_refusals(socket: zmq.asyncio.Socket) -> AsyncIterator[None]:
    """Log refused handshakes on a server socket, once per client host and minute."""
    limiter = RefusalLog()
    async with _monitor(socket, HANDSHAKE_FAILURES, limiter.record):
        yield


class RefusalLog:
    """One warning per client host per `interval`, counting the refusals it skipped."""

    def __init__(self, interval: float = REFUSAL_LOG_INTERVAL_S) -> None:
        self.interval = interval
        self._last: dict[str, tuple[float, int]] = {}

    def record(self, event: zmq.Event, value: int, peer: str) -> None:
        host = peer.rpartition(":")[0] or peer  # the client's port changes on every retry
        now = time.monotonic()
        logged, skipped = self._last.get(host, (-self.interval, 0))
        if now - logged < self.interval:
            self._last[host] = (logged, skipped + 1)
            return
        self._last[host] = (now, 0)
        why = _refusal(event, value)
        more = f" ({skipped} more refusals since the last line)" if skipped else ""
        log.warning("refused a client at %s: %s%s", host, why, more)


def _refusal(event: zmq.Event, value: int) -> str:
    if event == zmq.Event.HANDSHAKE_FAILED_AUTH:
        return "its key is not in authorized/"
    if value == MISMATCH:
        return "one side has keys and the other none"
    return "the security handshake failed (another server's key, or not a toxbridge client)"


@contextlib.asynccontextmanager
async def _monitor(socket: zmq.asyncio.Socket, events: int, handle: Handler) -> AsyncIterator[None]:
    monitor = socket.get_monitor_socket(events)
    task = asyncio.create_task(_read_monitor(monitor, handle))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        socket.disable_monitor()
        monitor.close(linger=0)


async def _read_monitor(monitor: zmq.asyncio.Socket, handle: Handler) -> None:
    while True:
        event = parse_monitor_message(await monitor.recv_multipart())
        peer = event["endpoint"].decode(errors="replace")
        try:
            kind = zmq.Event(event["event"])
        except ValueError:
            continue
        handle(kind, int(event["value"]), peer)
