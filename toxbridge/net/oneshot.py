"""One request, one reply, without asyncio: `toxbridge ping`, `cancel` and `quit`.

A command-line process that only asks one question would spend about as long importing
asyncio and zmq.asyncio as doing everything else, so these requests use a plain zmq
DEALER socket with the same options as `Client`, and the same verdicts on a failed
connection (net.verdict: refused, not a toxbridge server, keys that do not match), known
as soon as the socket's monitor reports them. A client with CURVE keys imports `auth`
(and with it asyncio) to load them.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

import zmq

from toxbridge.config import DEFAULT_TIMEOUT_S, Endpoint
from toxbridge.errors import ProtocolError, RemoteError, ServerUnreachable, ToxbridgeError
from toxbridge.net.verdict import CLIENT_EVENTS, ConnectionState, monitor_event, speaks_zmtp
from toxbridge.wire import protocol

if TYPE_CHECKING:
    from toxbridge.net.auth import ClientKeys


def request(
    endpoint: Endpoint,
    message: protocol.Request,
    *,
    timeout: float = DEFAULT_TIMEOUT_S,
    keys: ClientKeys | None = None,
) -> tuple[protocol.Reply, float]:
    """Send `message`; the server's reply to it (an `error` reply raises) and the seconds
    from sending it to that reply."""
    context = zmq.Context()
    socket = context.socket(zmq.DEALER)
    socket.setsockopt(zmq.ROUTING_ID, os.urandom(16))
    socket.setsockopt(zmq.IMMEDIATE, 1)  # no server: the send waits, and times out, here
    socket.setsockopt(zmq.LINGER, 0)  # never deliver a stale request to a later server
    if keys is not None:  # as auth.curve_client does for an asyncio socket
        socket.curve_serverkey = keys.server_public
        socket.curve_publickey = keys.public
        socket.curve_secretkey = keys.secret
    monitor = socket.get_monitor_socket(CLIENT_EVENTS)
    state = ConnectionState(str(endpoint), has_keys=keys is not None)
    try:
        try:
            socket.connect(str(endpoint))
        except zmq.ZMQError as error:
            raise ServerUnreachable(f"cannot connect to {endpoint}: {error}") from None
        deadline = time.monotonic() + timeout
        _wait(socket, monitor, state, zmq.POLLOUT, deadline, timeout)
        socket.send_multipart(protocol.encode(message), flags=zmq.NOBLOCK)
        sent = time.perf_counter()
        while True:
            _wait(socket, monitor, state, zmq.POLLIN, deadline, timeout)
            try:
                reply = protocol.decode(socket.recv_multipart())
            except ProtocolError:
                continue  # not an answer we can read; keep waiting for ours
            if reply.id == message.id and isinstance(reply, protocol.Reply):
                round_trip = time.perf_counter() - sent
                break
    finally:
        socket.disable_monitor()
        monitor.close(linger=0)
        socket.close(linger=0)
        context.term()
    if isinstance(reply, protocol.Error):
        raise RemoteError(reply.code.value, reply.message)
    return reply, round_trip


def _wait(
    socket: zmq.Socket[bytes],
    monitor: zmq.Socket[bytes],
    state: ConnectionState,
    event: int,
    deadline: float,
    timeout: float,
) -> None:
    """Until `socket` is ready for `event`; a verdict of the monitor's or the deadline raises."""
    poller = zmq.Poller()
    poller.register(socket, event)
    poller.register(monitor, zmq.POLLIN)
    while True:
        left_ms = (deadline - time.monotonic()) * 1000
        if left_ms <= 0:
            raise state.timed_out(timeout)
        ready = dict(poller.poll(max(1, round(left_ms))))
        if monitor in ready:
            failure = _take_event(monitor, state)
            if failure is not None:
                raise failure
        if socket in ready:
            return


def _take_event(monitor: zmq.Socket[bytes], state: ConnectionState) -> ToxbridgeError | None:
    parsed = monitor_event(monitor.recv_multipart())
    if parsed is None:
        return None
    failure = state.failure
    if state.handle(*parsed):
        return state.probed(speaks_zmtp(state.endpoint))
    return state.failure if state.failure is not failure else None


def request_id() -> str:
    """An id for a one-shot request, unique like `Client`'s."""
    return f"{os.urandom(4).hex()}-1"  # uuid would cost this process more than a ping
