"""The client side of the protocol: one DEALER socket, shared by concurrent requests.

Used by the CLI and by the LSP bridge. `Client.run()` is an async context manager and
an async iterator of the run's events; it grants output credit as the caller consumes
events, sends heartbeats, and raises `ConnectionLost` if the server goes silent or
restarts. zmq errors never leave this module: they become `ToxbridgeError`s.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from types import TracebackType
from typing import Any, TypeAlias

import zmq
import zmq.asyncio

from toxbridge.config import DEFAULT_LIVENESS_S, DEFAULT_TIMEOUT_S, Endpoint
from toxbridge.errors import (
    AuthenticationFailed,
    ConnectionLost,
    ProtocolError,
    RemoteError,
    ServerUnreachable,
)
from toxbridge.net.auth import ClientKeys, HandshakeWatch, curve_client, watch_handshakes
from toxbridge.wire import protocol

log = logging.getLogger(__name__)

CREDIT_WINDOW = 64
RunEvent: TypeAlias = protocol.Queued | protocol.Started | protocol.Output | protocol.Exit


class Client:
    """`async with Client(endpoint) as client:` then ping, cancel, quit or run."""

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
        liveness_s: float = DEFAULT_LIVENESS_S,
        credit_window: int = CREDIT_WINDOW,
        keys: ClientKeys | None = None,
        context: zmq.asyncio.Context | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self.liveness_s = liveness_s
        self.credit_window = credit_window
        self._context = context or zmq.asyncio.Context.instance()
        self._socket: zmq.asyncio.Socket | None = None
        self._reader: asyncio.Task[None] | None = None
        # a run's replies go to a queue; a one-shot request's single reply to a future
        self._waiters: dict[
            str, asyncio.Queue[protocol.Reply] | asyncio.Future[protocol.Reply]
        ] = {}
        self._ids = itertools.count(1)
        self._prefix = uuid.uuid4().hex[:8]
        self._keys = keys
        self._exits = contextlib.AsyncExitStack()
        self._handshakes = HandshakeWatch()

    async def __aenter__(self) -> Client:
        socket = self._context.socket(zmq.DEALER)
        socket.setsockopt(zmq.ROUTING_ID, uuid.uuid4().bytes)  # survives reconnects
        socket.setsockopt(zmq.IMMEDIATE, 1)  # no server: sends wait, and time out, here
        socket.setsockopt(zmq.LINGER, 0)  # never deliver a stale request to a later server
        socket.setsockopt(zmq.RCVHWM, 0)  # credit already bounds what the server sends
        if self._keys is not None:
            curve_client(socket, self._keys)
        self._handshakes = await self._exits.enter_async_context(watch_handshakes(socket, "client"))
        try:
            socket.connect(str(self.endpoint))
        except zmq.ZMQError as error:
            await self._exits.aclose()
            socket.close(linger=0)
            raise ServerUnreachable(f"cannot connect to {self.endpoint}: {error}") from None
        self._socket = socket
        self._reader = asyncio.create_task(self._read_loop(socket))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._reader is not None:
            await _cancel_and_wait(self._reader)
        await self._exits.aclose()
        if self._socket is not None:
            self._socket.close(linger=0)
        self._socket = self._reader = None

    def new_id(self) -> str:
        return f"{self._prefix}-{next(self._ids)}"

    # -- one-shot requests -------------------------------------------------------------

    async def ping(self) -> tuple[protocol.Pong, float]:
        """The server's state and the round trip in seconds."""
        started = time.perf_counter()
        reply = await self._request(protocol.Ping(self.new_id()))
        if not isinstance(reply, protocol.Pong):
            raise ProtocolError("bad-frame", f"expected pong, got {type(reply).__name__}")
        return reply, time.perf_counter() - started

    async def cancel(self, target: str | None = None) -> tuple[str, ...]:
        """Cancel runs (default: this client's); returns the ids the server cancelled."""
        reply = await self._request(protocol.Cancel(self.new_id(), target))
        return reply.cancelled if isinstance(reply, protocol.Ack) else ()

    async def quit(self, *, now: bool = False) -> None:
        await self._request(protocol.Quit(self.new_id(), now))

    async def _request(self, message: protocol.Request) -> protocol.Reply:
        answered: asyncio.Future[protocol.Reply] = asyncio.get_running_loop().create_future()
        self._waiters[message.id] = answered
        try:
            async with asyncio.timeout(self.timeout):
                await self.send(message)
                reply = await answered
        except TimeoutError:
            raise self._unreachable() from None
        finally:
            self._unregister(message.id)
        if isinstance(reply, protocol.Error):
            raise RemoteError(reply.code.value, reply.message)
        return reply

    # -- runs ----------------------------------------------------------------------------

    def run(
        self,
        args: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        color: bool = False,
        run_id: str | None = None,
    ) -> RemoteRun:
        request = protocol.Run(
            run_id or self.new_id(), tuple(args), dict(env or {}), color, self.credit_window
        )
        return RemoteRun(self, request)

    # -- plumbing --------------------------------------------------------------------------

    def _register(self, request_id: str) -> asyncio.Queue[protocol.Reply]:
        queue: asyncio.Queue[protocol.Reply] = asyncio.Queue()
        self._waiters[request_id] = queue
        return queue

    def _unregister(self, request_id: str) -> None:
        self._waiters.pop(request_id, None)

    def _unreachable(self) -> ServerUnreachable:
        if self._handshakes.failure is not None:
            return AuthenticationFailed(f"{self.endpoint}: {self._handshakes.failure}")
        return ServerUnreachable(
            f"no toxbridge server answered at {self.endpoint} within {self.timeout:g}s; "
            "start one in the container with `toxbridge serve` (same port or --endpoint), "
            "or point this client at it: -H/-p/--endpoint or TOXBRIDGE_ENDPOINT on the "
            "command line, the `endpoint` setting in an editor"
        )

    async def send(self, message: protocol.Request) -> None:
        if self._socket is None:
            raise RuntimeError("client is not open: use `async with Client(...)`")
        await self._socket.send_multipart(protocol.encode(message), copy=False)

    def send_nowait(self, message: protocol.Request) -> None:
        """Best effort, for cleanup paths that must not wait."""
        if self._socket is not None:
            sent = self._socket.send_multipart(protocol.encode(message), flags=zmq.NOBLOCK)
            asyncio.ensure_future(sent).add_done_callback(_consume_outcome)

    async def _read_loop(self, socket: zmq.asyncio.Socket) -> None:
        try:
            await self._dispatch_replies(socket)
        except Exception as error:
            # nobody would hear from the server again: fail every waiter now, not at timeout
            log.exception("client receive loop failed")
            failure = protocol.Error(None, protocol.ErrorCode.INTERNAL, f"client failed: {error}")
            for waiter in self._waiters.values():
                _deliver(waiter, failure)
            raise

    async def _dispatch_replies(self, socket: zmq.asyncio.Socket) -> None:
        while True:
            frames = await socket.recv_multipart()
            try:
                message = protocol.decode(frames)
            except ProtocolError as error:
                log.warning("ignoring malformed message from the server: %s", error)
                continue
            waiter = self._waiters.get(message.id or "")
            if waiter is None:
                log.debug("no one waits for %s %s", type(message).__name__, message.id)
            elif isinstance(message, protocol.Reply):
                _deliver(waiter, message)


def _deliver(
    waiter: asyncio.Queue[protocol.Reply] | asyncio.Future[protocol.Reply], reply: protocol.Reply
) -> None:
    if isinstance(waiter, asyncio.Queue):
        waiter.put_nowait(reply)
    elif not waiter.done():
        waiter.set_result(reply)


async def _cancel_and_wait(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def _consume_outcome(future: asyncio.Future[Any]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.debug("best-effort send failed: %s", future.exception())


class RemoteRun:
    """One run on the server: `async with client.run(args) as run: async for event in run`."""

    def __init__(self, client: Client, request: protocol.Run) -> None:
        self._client = client
        self.request = request
        self.id = request.id
        self.result: protocol.Exit | None = None
        self.started: protocol.Started | None = None
        self._events = client._register(request.id)
        self._consumed = 0
        self._next_seq = 0
        self._heartbeat: asyncio.Task[None] | None = None
        self._answered = False

    async def __aenter__(self) -> RemoteRun:
        try:
            async with asyncio.timeout(self._client.timeout):
                await self._client.send(self.request)
        except TimeoutError:
            self._client._unregister(self.id)
            raise self._client._unreachable() from None
        self._heartbeat = asyncio.create_task(self._heartbeat_loop())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._heartbeat is not None:
            await _cancel_and_wait(self._heartbeat)
        if self.result is None:  # left early: do not leave tox running for nobody
            self._client.send_nowait(protocol.Cancel(self._client.new_id(), self.id))
        self._client._unregister(self.id)

    def __aiter__(self) -> AsyncIterator[RunEvent]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[RunEvent]:
        while self.result is None:
            event = await self._next_event()
            if isinstance(event, protocol.Output):
                await self._account(event)
            elif isinstance(event, protocol.Started):
                self.started = event
            elif isinstance(event, protocol.Exit):
                self.result = event
            yield event

    async def cancel(self) -> tuple[str, ...]:
        return await self._client.cancel(self.id)

    async def _next_event(self) -> RunEvent:
        first = not self._answered
        limit = self._client.timeout if first else self._client.liveness_s
        while True:
            try:
                async with asyncio.timeout(limit):
                    reply = await self._events.get()
            except TimeoutError:
                if first:
                    raise self._client._unreachable() from None
                raise ConnectionLost(
                    f"the server at {self._client.endpoint} stopped answering for "
                    f"{limit:g}s during run {self.id}; check that it is still running"
                ) from None
            self._answered = True
            first, limit = False, self._client.liveness_s
            match reply:
                case protocol.Queued() | protocol.Started() | protocol.Output() | protocol.Exit():
                    return reply
                case protocol.Error(code=protocol.ErrorCode.UNKNOWN_RUN):
                    raise ConnectionLost(
                        f"the server at {self._client.endpoint} no longer knows run "
                        f"{self.id}: it restarted mid-run. Run again."
                    )
                case protocol.Error(code=code, message=message):
                    raise RemoteError(code.value, message)

    async def _account(self, event: protocol.Output) -> None:
        if event.seq != self._next_seq:
            raise ConnectionLost(
                f"output of run {self.id} arrived out of order (got {event.seq}, "
                f"expected {self._next_seq}); refusing to show partial output"
            )
        self._next_seq += 1
        self._consumed += 1
        if self._consumed >= self._client.credit_window // 2:
            await self._client.send(protocol.Credit(self.id, self._consumed))
            self._consumed = 0

    async def _heartbeat_loop(self) -> None:
        interval = min(1.0, self._client.liveness_s / 4)
        while True:
            await asyncio.sleep(interval)
            await self._client.send(protocol.Heartbeat(self.id))
