"""The client side of the protocol: one DEALER socket, shared by concurrent requests.

Used by the CLI and by the LSP bridge. `Client.run()` (see `net.remote`) is an async
context manager and an async iterator of the run's events; so is `Client.watch()` (see
`net.watching`) of every run's. Every send and every wait
here has a bound: a request that gets no answer within the timeout, or whose connection
fails for good (refused, a listener that is no toxbridge server, keys that do not match:
see `net.monitor`), raises at once; credit and heartbeats never wait for the server.
zmq errors never leave this module: they become `ToxbridgeError`s.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, TypeVar, cast

import zmq
import zmq.asyncio

from toxbridge.config import DEFAULT_LIVENESS_S, DEFAULT_TIMEOUT_S, Endpoint
from toxbridge.errors import ProtocolError, RemoteError, ServerUnreachable
from toxbridge.net.auth import ClientKeys, curve_client
from toxbridge.net.monitor import ConnectionWatch, watch_connection
from toxbridge.net.remote import RemoteRun, RunEvent
from toxbridge.net.watching import RemoteWatch
from toxbridge.wire import protocol

__all__ = ["CREDIT_WINDOW", "Client", "RemoteRun", "RemoteWatch", "RunEvent"]

log = logging.getLogger(__name__)

CREDIT_WINDOW = 64
T = TypeVar("T")
Deliver = Callable[[protocol.Reply], None]


class Client:
    """`async with Client(endpoint) as client:` then ping, cancel, quit or run.

    `name` says who this client is (such as "toxbridge cancel") in the `exit` of a run
    it cancels for someone else.
    """

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
        liveness_s: float = DEFAULT_LIVENESS_S,
        credit_window: int = CREDIT_WINDOW,
        keys: ClientKeys | None = None,
        context: zmq.asyncio.Context | None = None,
        fail_fast: bool = True,
        name: str | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self.liveness_s = liveness_s
        self.credit_window = credit_window
        self.fail_fast = fail_fast  # False: wait out the timeout even when refused
        self.name = name
        self.last_heard = time.monotonic()  # when the server last sent us anything
        self.connection = ConnectionWatch(str(endpoint), has_keys=keys is not None)
        self._context = context or zmq.asyncio.Context.instance()
        self._socket: zmq.asyncio.Socket | None = None
        self._reader: asyncio.Task[None] | None = None
        self._waiters: dict[str, Deliver] = {}
        self._ids = itertools.count(1)
        self._prefix = uuid.uuid4().hex[:8]
        self._keys = keys
        self._exits = contextlib.AsyncExitStack()

    async def __aenter__(self) -> Client:
        socket = self._context.socket(zmq.DEALER)
        socket.setsockopt(zmq.ROUTING_ID, uuid.uuid4().bytes)  # survives reconnects
        socket.setsockopt(zmq.IMMEDIATE, 1)  # no server: sends wait, and time out, here
        socket.setsockopt(zmq.LINGER, 0)  # never deliver a stale request to a later server
        socket.setsockopt(zmq.RCVHWM, 0)  # credit already bounds what the server sends
        if self._keys is not None:
            curve_client(socket, self._keys)
        await self._exits.enter_async_context(watch_connection(socket, self.connection))
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
        reply = await self._request(protocol.Cancel(self.new_id(), target, self.name))
        return reply.cancelled if isinstance(reply, protocol.Ack) else ()

    async def quit(self, *, now: bool = False) -> None:
        await self._request(protocol.Quit(self.new_id(), now))

    async def _request(self, message: protocol.Request) -> protocol.Reply:
        answered: asyncio.Future[protocol.Reply] = asyncio.get_running_loop().create_future()
        self._waiters[message.id] = lambda reply: (
            None if answered.done() else answered.set_result(reply)
        )
        try:
            reply = await self.answer_or_fail(self._send_then(message, answered), self.timeout)
        finally:
            self.unregister(message.id)
        if isinstance(reply, protocol.Error):
            raise RemoteError(reply.code.value, reply.message)
        return reply

    async def _send_then(self, message: protocol.Request, answer: Awaitable[T]) -> T:
        await self.send(message)
        return await answer

    async def answer_or_fail(
        self, work: Awaitable[T], within: float, timeout_said: float | None = None
    ) -> T:
        """`work`'s result within `within` seconds; fails at once if the connection fails for
        good (unless `fail_fast` is off). The error names `timeout_said` (or `within`)."""
        try:
            async with asyncio.timeout(within):
                if not self.fail_fast:
                    return await work
                return await _first_of(work, self.connection.failed())
        except TimeoutError:
            raise self.connection.timed_out(timeout_said or within) from None

    # -- runs ----------------------------------------------------------------------------

    def run(
        self,
        args: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        color: bool = False,
        run_id: str | None = None,
        events: bool = False,
        report_log: bool = False,
    ) -> RemoteRun:
        """A run of tox `args`; with `events`, its test events too (`protocol.Test`), and with
        `report_log` their reports carry pytest-reportlog's data."""
        request = protocol.Run(
            run_id or self.new_id(),
            tuple(args),
            dict(env or {}),
            color,
            self.credit_window,
            events,
            report_log,
        )
        return RemoteRun(self, request)

    def watch(self, *, output: bool = False) -> RemoteWatch:
        """Every run on the server, as `protocol.Watched` messages (see `net.watching`);
        with `output`, their output too."""
        return RemoteWatch(self, protocol.Watch(self.new_id(), output))

    # -- plumbing --------------------------------------------------------------------------

    def register(self, request_id: str, deliver: Deliver) -> None:
        self._waiters[request_id] = deliver

    def unregister(self, request_id: str) -> None:
        self._waiters.pop(request_id, None)

    async def send(self, message: protocol.Request) -> None:
        """Send `message`; waits (for a connection) no longer than the timeout."""
        if self._socket is None:
            raise RuntimeError("client is not open: use `async with Client(...)`")
        frames = protocol.encode(message)
        await self.answer_or_fail(self._socket.send_multipart(frames, copy=False), self.timeout)

    def try_send(self, message: protocol.Request) -> bool:
        """Send now or not at all (no connection, or its queue is full): never waits."""
        if self._socket is None:
            return False
        # pyzmq's asyncio socket answers a NOBLOCK send with a future that is already done
        sent = cast(
            "asyncio.Future[Any]",
            self._socket.send_multipart(protocol.encode(message), flags=zmq.NOBLOCK),
        )
        if not sent.done():  # pragma: no cover - pyzmq completes NOBLOCK sends at once
            sent.add_done_callback(_consume_outcome)
            return True
        return sent.exception() is None

    def send_nowait(self, message: protocol.Request) -> None:
        """Best effort, for cleanup paths that must not wait."""
        if not self.try_send(message):
            log.debug("best-effort %s not sent: no connection", type(message).__name__)

    async def _read_loop(self, socket: zmq.asyncio.Socket) -> None:
        try:
            await self._dispatch_replies(socket)
        except Exception as error:
            # nobody would hear from the server again: fail every waiter now, not at timeout
            log.exception("client receive loop failed")
            failure = protocol.Error(None, protocol.ErrorCode.INTERNAL, f"client failed: {error}")
            for deliver in list(self._waiters.values()):
                deliver(failure)
            raise

    async def _dispatch_replies(self, socket: zmq.asyncio.Socket) -> None:
        while True:
            frames = await socket.recv_multipart()
            self.last_heard = time.monotonic()
            try:
                message = protocol.decode(frames)
            except ProtocolError as error:
                log.warning("ignoring malformed message from the server: %s", error)
                continue
            deliver = self._waiters.get(message.id or "")
            if deliver is None:
                log.debug("no one waits for %s %s", type(message).__name__, message.id)
            elif isinstance(message, protocol.Reply):
                deliver(message)


async def _first_of(work: Awaitable[T], failure: Awaitable[Exception]) -> T:
    """`work`'s result, unless `failure` completes first: then its exception is raised."""
    task = asyncio.ensure_future(work)
    failed = asyncio.ensure_future(failure)
    try:
        await asyncio.wait({task, failed}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for pending in (task, failed):
            if not pending.done():
                pending.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await pending
    if task.done() and not task.cancelled():
        return task.result()
    raise failed.result()


async def _cancel_and_wait(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def _consume_outcome(future: asyncio.Future[Any]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.debug("best-effort send failed: %s", future.exception())
