"""One request, one reply, without asyncio: `toxbridge ping`, `cancel` and `quit`.

A command-line process that only asks one question would spend about as long importing
asyncio and zmq.asyncio as doing everything else, so these requests use a plain zmq
DEALER socket with the same options and the same errors as `Client`. What only a
failure needs (the handshake explanations, the monitor message parser) is imported on
that path; a client with CURVE keys imports `auth` (and with it asyncio) to load them.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

import zmq

from toxbridge.config import DEFAULT_TIMEOUT_S, Endpoint
from toxbridge.errors import AuthenticationFailed, ProtocolError, RemoteError, ServerUnreachable
from toxbridge.wire import protocol

if TYPE_CHECKING:
    from toxbridge.net.auth import ClientKeys

# the same events `auth.HANDSHAKE_FAILURES` names; spelled here so that a request
# without keys does not import `auth` (and asyncio through it)
_HANDSHAKE_FAILURES = (
    zmq.Event.HANDSHAKE_FAILED_AUTH
    | zmq.Event.HANDSHAKE_FAILED_PROTOCOL
    | zmq.Event.HANDSHAKE_FAILED_NO_DETAIL
)


def unreachable(endpoint: Endpoint, timeout: float) -> ServerUnreachable:
    """The error for a server that did not answer; `Client` words it the same way."""
    return ServerUnreachable(
        f"no toxbridge server answered at {endpoint} within {timeout:g}s; "
        "start one in the container with `toxbridge serve` (same port or --endpoint), "
        "or point this client at it: -H/-p/--endpoint or TOXBRIDGE_ENDPOINT on the "
        "command line, the `endpoint` setting in an editor"
    )


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
    monitor = socket.get_monitor_socket(_HANDSHAKE_FAILURES)
    try:
        try:
            socket.connect(str(endpoint))
        except zmq.ZMQError as error:
            raise ServerUnreachable(f"cannot connect to {endpoint}: {error}") from None
        deadline = time.monotonic() + timeout
        _wait(socket, monitor, zmq.POLLOUT, deadline, endpoint, timeout)
        socket.send_multipart(protocol.encode(message), flags=zmq.NOBLOCK)
        sent = time.perf_counter()
        while True:
            _wait(socket, monitor, zmq.POLLIN, deadline, endpoint, timeout)
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
    event: int,
    deadline: float,
    endpoint: Endpoint,
    timeout: float,
) -> None:
    """Until `socket` is ready for `event`; a failed handshake or the deadline raises."""
    poller = zmq.Poller()
    poller.register(socket, event)
    poller.register(monitor, zmq.POLLIN)
    while True:
        left_ms = (deadline - time.monotonic()) * 1000
        if left_ms <= 0:
            raise unreachable(endpoint, timeout)
        ready = dict(poller.poll(max(1, round(left_ms))))
        if monitor in ready:
            raise _handshake_failure(monitor, endpoint)
        if socket in ready:
            return


def _handshake_failure(monitor: zmq.Socket[bytes], endpoint: Endpoint) -> AuthenticationFailed:
    from zmq.utils.monitor import parse_monitor_message

    from toxbridge.net.auth import _explain

    event = parse_monitor_message(monitor.recv_multipart())
    return AuthenticationFailed(f"{endpoint}: {_explain(zmq.Event(event['event']), 'client')}")


def request_id() -> str:
    """An id for a one-shot request, unique like `Client`'s."""
    return f"{os.urandom(4).hex()}-1"  # uuid would cost this process more than a ping
