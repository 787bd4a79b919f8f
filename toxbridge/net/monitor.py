"""What a socket's monitor says about its connections, as sentences a user can act on.

A client's `ConnectionWatch` tells apart what a bare timeout cannot: nothing listening
(the connection is refused), a listener that is not a toxbridge server (it accepts and
closes, or accepts and never speaks ZMTP), keys that do not match (one side has none),
and a key the server does not know. Each is known the moment it happens, so a request
fails at once instead of after its timeout.

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

from toxbridge.errors import AuthenticationFailed, ServerUnreachable, ToxbridgeError

log = logging.getLogger(__name__)

HANDSHAKE_FAILURES = (
    zmq.Event.HANDSHAKE_FAILED_AUTH
    | zmq.Event.HANDSHAKE_FAILED_PROTOCOL
    | zmq.Event.HANDSHAKE_FAILED_NO_DETAIL
)
CLIENT_EVENTS = (
    HANDSHAKE_FAILURES
    | zmq.Event.HANDSHAKE_SUCCEEDED
    | zmq.Event.CONNECTED
    | zmq.Event.CONNECT_RETRIED
    | zmq.Event.DISCONNECTED
)
REFUSAL_LOG_INTERVAL_S = 60.0
MISMATCH = zmq.PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH
PROBE_S = 1.0

Handler: TypeAlias = Callable[[zmq.Event, int, str], None]  # event, value, peer endpoint


class ConnectionWatch:
    """The state of a client socket's connection, kept current by its monitor."""

    def __init__(self, endpoint: str, *, has_keys: bool) -> None:
        self.endpoint = endpoint
        self.has_keys = has_keys
        self.up = False  # the handshake succeeded and the connection still stands
        self.accepted = False  # a listener took the connection; the handshake is pending
        self.failure: ToxbridgeError | None = None  # the last attempt's definite failure
        self._waiting: list[asyncio.Future[ToxbridgeError]] = []
        self._attempt_accepted = False  # this attempt reached a listener (no refusal)
        self._probe: asyncio.Task[None] | None = None
        self._up = asyncio.Event()
        # zmq retries after a refusal or a hang-up, not after the server refused our keys:
        # only such a final failure answers a request that starts after it happened
        self._final = False

    def handle(self, event: zmq.Event, value: int, peer: str = "") -> None:
        if event == zmq.Event.CONNECTED:
            self.accepted = self._attempt_accepted = True
            self.failure, self._final = None, False
        elif event == zmq.Event.HANDSHAKE_SUCCEEDED:
            self.up, self.failure = True, None
            self._up.set()
        elif event == zmq.Event.DISCONNECTED:
            self.up = self.accepted = False
            self._up.clear()
        elif event == zmq.Event.CONNECT_RETRIED:
            accepted, self._attempt_accepted = self._attempt_accepted, False
            if not self.up and not accepted:  # a refusal, again: tell whoever waits now
                self._fail(
                    ServerUnreachable(
                        f"nothing is listening at {self.endpoint} (connection refused): start "
                        "`toxbridge serve` there, or point this client at the right "
                        "-H/-p/--endpoint (TOXBRIDGE_ENDPOINT; `endpoint` in an editor)"
                    )
                )
        elif event == zmq.Event.HANDSHAKE_FAILED_NO_DETAIL:
            # the peer hung up mid-handshake: a listener that is no toxbridge server, or a
            # server whose refusal of our keys (or lack of them) did not arrive in time
            self.failure = None
            if self._probe is None or self._probe.done():
                self._probe = asyncio.create_task(self._tell_apart())
        elif event & HANDSHAKE_FAILURES:
            self._fail(self._handshake_failure(event, value), final=True)

    def _fail(self, failure: ToxbridgeError, *, final: bool = False) -> None:
        self.failure, self._final = failure, final
        log.debug("client: %s", failure)
        # each waiter learns the first failure it saw: a retry may fail differently
        for waiter in self._waiting:
            if not waiter.done():
                waiter.set_result(failure)
        self._waiting.clear()

    async def _tell_apart(self) -> None:
        """Does a ZMQ peer listen there? It greets every connection at once (ZMTP)."""
        speaks_zmtp = await greets_with_zmtp(self.endpoint)
        if self.failure is not None or self.up:
            return
        if not speaks_zmtp:
            self._fail(not_a_server(self.endpoint, "accepted the connection and closed it"))
        elif self.has_keys:
            self._fail(
                AuthenticationFailed(
                    f"{self.endpoint}: the security handshake failed: this client's server.key "
                    "does not match the server's (both must come from the same `toxbridge keygen`)"
                )
            )
        else:
            self._fail(self._handshake_failure(zmq.Event.HANDSHAKE_FAILED_PROTOCOL, MISMATCH))

    def close(self) -> None:
        if self._probe is not None:
            self._probe.cancel()

    def _handshake_failure(self, event: zmq.Event, value: int) -> ToxbridgeError:
        where = self.endpoint
        if event == zmq.Event.HANDSHAKE_FAILED_AUTH:
            return AuthenticationFailed(
                f"{where}: the server refused this client's key: ask its admin to add your "
                "client.key to the server's authorized/ directory (`toxbridge keygen`)"
            )
        if event == zmq.Event.HANDSHAKE_FAILED_PROTOCOL and value == MISMATCH:
            if self.has_keys:
                return AuthenticationFailed(
                    f"{where}: this client has keys but the server uses none: drop --keys "
                    "(TOXBRIDGE_KEYS), or start the server with --keys DIR"
                )
            return AuthenticationFailed(
                f"{where}: the server requires keys: pass --keys DIR (or TOXBRIDGE_KEYS) with "
                "the server.key and client key from the server's `toxbridge keygen`"
            )
        return AuthenticationFailed(
            f"{where}: the security handshake failed (a protocol error, {value:#x}): both "
            "sides need keys from the same `toxbridge keygen`"
        )

    def timed_out(self, seconds: float) -> ToxbridgeError:
        """The error for a request that got no answer within `seconds`."""
        if self.failure is not None:
            return self.failure
        if self.accepted and not self.up:
            return not_a_server(
                self.endpoint, f"accepted the connection but said nothing for {seconds:g}s"
            )
        return ServerUnreachable(
            f"no toxbridge server answered at {self.endpoint} within {seconds:g}s; start one "
            "in the container with `toxbridge serve` (same port or --endpoint), or point this "
            "client at it: -H/-p/--endpoint or TOXBRIDGE_ENDPOINT on the command line, the "
            "`endpoint` setting in an editor"
        )

    async def wait_up(self) -> None:
        """Until a handshake with the server has succeeded (at once if it stands now)."""
        await self._up.wait()

    async def failed(self) -> ToxbridgeError:
        """Wait until an attempt to connect fails for good (from now on, unless the last
        failure was final); its error. Each retry of zmq's comes within 100 ms."""
        if self.failure is not None and self._final:
            return self.failure
        waiter: asyncio.Future[ToxbridgeError] = asyncio.get_running_loop().create_future()
        self._waiting.append(waiter)
        try:
            return await waiter
        finally:
            with contextlib.suppress(ValueError):
                self._waiting.remove(waiter)


def not_a_server(endpoint: str, what: str) -> ServerUnreachable:
    return ServerUnreachable(
        f"something at {endpoint} {what} without answering as a toxbridge server: is "
        "`toxbridge serve` running (in the container, behind the published port)?"
    )


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
    return signature[0] == 0xFF and signature[9] == 0x7F


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
