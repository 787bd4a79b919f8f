"""`toxbridge serve`: the ROUTER socket, request dispatch and the scheduler.

Everything a client sends is decoded by `protocol.decode`; anything malformed gets an
`error` reply and the server carries on. Output travels only against credit, and every
send is non-blocking with a deadline (`server.clients`), so one slow or dead client can
neither lose another client's output nor stall the server. What one client can queue is
bounded too: runs waiting per client and in all, and credit per run (the window).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import stat
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import zmq
import zmq.asyncio

from toxbridge import __version__
from toxbridge.config import DEFAULT_LIVENESS_S, Endpoint
from toxbridge.errors import ConfigError, ProtocolError
from toxbridge.net.auth import CurveServer, ServerKeys, curve_server
from toxbridge.net.monitor import watch_refusals
from toxbridge.process import leftovers
from toxbridge.server.clients import SEND_HWM, Clients
from toxbridge.server.execute import RunSettings, execute, reject_queued
from toxbridge.server.policy import check_request
from toxbridge.server.queue import WINDOW, ActiveRun, RunQueue
from toxbridge.server.terminal import terminal_request
from toxbridge.server.watch import MAX_BYTES as WATCH_BYTES
from toxbridge.server.watch import Watchers
from toxbridge.wire import protocol

log = logging.getLogger(__name__)

SHUTDOWN_DRAIN_S = 0.3
REAP_INTERVAL_S = 1.0


@dataclass(frozen=True, slots=True)
class ServerSettings:
    endpoint: Endpoint
    run: RunSettings
    liveness_s: float = DEFAULT_LIVENESS_S
    max_message_bytes: int = 1 << 20
    insecure: bool = False
    keys: ServerKeys | None = None
    linger_ms: int = 1000
    socket_options: dict[int, int] = field(default_factory=dict)
    max_queued: int = 64  # runs waiting, from all clients
    max_queued_per_client: int = 8
    window: int = WINDOW  # credit a run may hold, whatever its client grants
    send_timeout_s: float | None = None  # None: the liveness
    watch_bytes: int = WATCH_BYTES  # what may wait for one watcher before output is dropped

    def describe(self, address: str) -> str:
        """One line: where it listens, its security, root, and warm or cold."""
        security = f"CURVE keys from {self.keys.authorized.parent}" if self.keys else "no keys"
        warmth = "cold tox" if self.run.warm is None else "warm tox"
        return f"listening on {address} ({security}), tox root {self.run.root}, {warmth}"


class Server:
    """Serves until `quit` or `stop()`; use `async with Server(...) as server` then `serve()`."""

    def __init__(self, settings: ServerSettings, context: zmq.asyncio.Context | None = None):
        if not settings.endpoint.is_private() and not settings.insecure and not settings.keys:
            raise ConfigError(
                f"refusing to bind {settings.endpoint} without authentication: anyone who "
                "reaches it could run commands. Use --keys DIR (see `toxbridge keygen`), "
                "bind 127.0.0.1 or an ipc:// path, or pass --insecure if the network is trusted"
            )
        self.settings = settings
        self._context = context or zmq.asyncio.Context.instance()
        self.queue = RunQueue()
        send_timeout = settings.send_timeout_s or settings.liveness_s
        self.clients = Clients(self.queue, settings.liveness_s, send_timeout)
        self.watchers = Watchers(self.clients, settings.liveness_s, settings.watch_bytes)
        self._curve: CurveServer | None = None
        self._stopping = False
        self._stop_now = False
        self.bound = asyncio.Event()
        self.address = str(settings.endpoint)
        self.announce: Callable[[str], None] = lambda line: log.info("%s", line)  # once bound

    # -- lifecycle -------------------------------------------------------------------

    async def serve(self) -> None:
        socket = self._context.socket(zmq.ROUTER)
        try:
            async with contextlib.AsyncExitStack() as stack:
                if self.settings.keys is not None:
                    self._curve = await stack.enter_async_context(
                        curve_server(self._context, socket, self.settings.keys)
                    )
                await stack.enter_async_context(watch_refusals(socket))
                self._bind(socket)
                await self._serve_on(socket)
        finally:
            await self.watchers.close()
            socket.close(linger=self.settings.linger_ms)
            self.clients.socket = None
            self._remove_ipc_file()
            log.info("server stopped")

    async def _serve_on(self, socket: zmq.asyncio.Socket) -> None:
        async with asyncio.TaskGroup() as tasks:
            receiver = tasks.create_task(self._receive_loop(socket))
            watchdog = tasks.create_task(self.clients.watchdog())
            reaper = tasks.create_task(self._reap_strays())
            watching = tasks.create_task(self.watchers.watchdog())
            await self._schedule_loop()
            # keep serving briefly: closing right after the last `exit` was queued lost
            # it now and then despite LINGER (seen on loopback TCP under load)
            await asyncio.sleep(SHUTDOWN_DRAIN_S)
            receiver.cancel()
            watchdog.cancel()
            reaper.cancel()
            watching.cancel()

    async def _reap_strays(self) -> None:
        """Reap, as they exit, what runs left running on purpose (--no-kill-leftovers)."""
        strays = self.settings.run.strays
        while True:
            await asyncio.sleep(REAP_INTERVAL_S)
            if strays:
                tree = {*strays, *leftovers.with_descendants(leftovers.alive(strays))}
                still = await leftovers.reap(tree, within=0)
                strays.clear()
                strays.update(still)

    def _bind(self, socket: zmq.asyncio.Socket) -> None:
        socket.setsockopt(zmq.ROUTER_MANDATORY, 1)  # unroutable = error, never a silent drop
        socket.setsockopt(zmq.ROUTER_HANDOVER, 1)
        socket.setsockopt(zmq.SNDHWM, SEND_HWM)
        socket.setsockopt(zmq.MAXMSGSIZE, self.settings.max_message_bytes)
        for option, value in self.settings.socket_options.items():
            socket.setsockopt(option, value)
        try:
            socket.bind(str(self.settings.endpoint))
        except zmq.ZMQError as error:
            raise ConfigError(f"cannot listen on {self.settings.endpoint}: {error}") from None
        self.address = socket.getsockopt_string(zmq.LAST_ENDPOINT)
        self.clients.socket = socket
        self.bound.set()
        self.announce(self.settings.describe(self.address))

    def _remove_ipc_file(self) -> None:
        """zmq leaves an ipc socket's file behind; a clean stop takes it away."""
        if not self.bound.is_set() or not self.address.startswith("ipc://"):
            return
        path = self.address.removeprefix("ipc://")
        with contextlib.suppress(OSError):
            if stat.S_ISSOCK(os.lstat(path).st_mode):
                os.unlink(path)

    def stop(self, *, now: bool, detail: str = "the server is shutting down") -> None:
        """Stop accepting runs; with `now`, cancel the running and queued ones too."""
        self._stopping = True
        if now and not self._stop_now:
            self._stop_now = True
            for run in list(self.queue):
                run.cancel(reason=protocol.EndReason.SHUTDOWN, detail=f"cancelled: {detail}")
        self.queue.wake()

    def install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._on_signal, sig)
        loop.add_signal_handler(signal.SIGHUP, self.reload_keys)

    def _on_signal(self, sig: signal.Signals) -> None:
        log.warning("received %s: cancelling runs and shutting down", sig.name)
        self.stop(now=True, detail=f"the server received {sig.name} and is shutting down")

    def reload_keys(self) -> None:
        """SIGHUP: re-read the authorised client keys now."""
        if self._curve is None:
            log.warning("SIGHUP: this server uses no keys; nothing to reload")
            return
        self._curve.reload(why="SIGHUP")

    # -- scheduling ------------------------------------------------------------------

    async def _schedule_loop(self) -> None:
        while True:
            if self._stopping and (self._stop_now or not self.queue.waiting):
                for waiting in list(self.queue.waiting):
                    self.queue.remove(waiting)
                    await reject_queued(waiting, self._send)
                return
            run = await self.queue.next_run()
            if run is None:
                continue
            if run.cancel_requested.is_set():
                await reject_queued(run, self._send)
                continue
            self.queue.current = run
            await self._announce_positions()
            try:
                await execute(run, self.settings.run, self._send, watched=len(self.watchers) > 0)
            finally:
                self.queue.current = None

    async def _announce_positions(self) -> None:
        for position, run in enumerate(self.queue.waiting, start=1):
            queued = protocol.Queued(run.id, position, self.settings.liveness_s)
            await self._send(run.envelope, queued)

    # -- receiving -------------------------------------------------------------------

    async def _receive_loop(self, socket: zmq.asyncio.Socket) -> None:
        while True:
            frames = await socket.recv_multipart()
            envelope, body = _split_envelope(frames)
            self.clients.heard(envelope[0])
            try:
                message = protocol.decode(body)
                if not isinstance(message, protocol.Request):
                    raise ProtocolError(
                        protocol.ErrorCode.UNKNOWN_KIND.value,
                        f"{type(message).__name__.lower()} is a reply, not a request",
                        message.id,
                    )
                await self._dispatch(envelope, message)
            except ProtocolError as error:
                log.info("bad request from %s: %s %s", envelope[0].hex()[:16], error.code, error)
                await self._send(envelope, protocol.error_reply(error))
            except Exception:
                log.exception("internal error while handling a request")
                await self._send(
                    envelope,
                    protocol.Error(None, protocol.ErrorCode.INTERNAL, "internal server error"),
                )

    async def _dispatch(self, envelope: Sequence[bytes], message: protocol.Request) -> None:
        client = envelope[0]
        if not isinstance(message, protocol.Credit | protocol.Heartbeat | protocol.Stdin):
            log.info("%s %s from %s", type(message).__name__.lower(), message.id, client.hex()[:16])
        match message:
            case protocol.Run():
                await self._accept_run(envelope, message)
            case protocol.Credit(id=run_id, n=n):
                self._own_run(client, run_id).grant(n)
            case protocol.Heartbeat(id=run_id) if self.watchers.find(client, run_id):
                await self._send(envelope, protocol.Alive(run_id, "watching"))
            case protocol.Heartbeat(id=run_id):
                run = self._own_run(client, run_id)
                await self._send(envelope, protocol.Alive(run_id, run.state))
            case protocol.Watch():
                await self._watch(envelope, message)
            case protocol.Pause(id=run_id) | protocol.Resume(id=run_id):
                run = self._own_run(client, run_id)
                run.paused = isinstance(message, protocol.Pause)
                await self._send(envelope, protocol.Alive(run_id, run.state))
            case protocol.Cancel(target=target, by=by):
                cancelled = await self._cancel(client, target, by)
                await self._send(envelope, protocol.Ack(message.id, tuple(cancelled)))
            case protocol.Ping():
                await self._send(envelope, self._pong(message.id))
            case protocol.Quit(now=now):
                await self._send(envelope, protocol.Ack(message.id))
                self.stop(now=now, detail="`toxbridge quit --now` stopped the server")
            case protocol.Stdin() | protocol.Resize() | protocol.Signal():
                terminal_request(self._own_run(client, message.id), message)

    def _own_run(self, client: bytes, run_id: str) -> ActiveRun:
        """The client's active run `run_id`; `unknown-run` tells it the server restarted."""
        run = self.queue.find(client, run_id)
        if run is None:
            raise ProtocolError(
                protocol.ErrorCode.UNKNOWN_RUN.value,
                f"no active run {run_id!r} from this client (did the server restart?)",
                run_id,
            )
        return run

    async def _accept_run(self, envelope: Sequence[bytes], request: protocol.Run) -> None:
        if self._stopping:
            raise ProtocolError(
                protocol.ErrorCode.BUSY.value, "the server is shutting down", request.id
            )
        if self.queue.find(envelope[0], request.id) is not None:
            raise ProtocolError(
                protocol.ErrorCode.BAD_ARGS.value,
                f"a run with id {request.id!r} is already active",
                request.id,
            )
        self._check_limits(envelope[0], request.id)
        check_request(request, self.settings.run.allowed_env)  # refused now, not at its turn
        run = ActiveRun(
            envelope, request, window=self.settings.window, liveness_s=self.settings.liveness_s
        )
        position = self.queue.add(run)
        if position > 0:
            await self._send(envelope, protocol.Queued(request.id, position, run.liveness_s))

    def _check_limits(self, client: bytes, run_id: str) -> None:
        limit = self.settings.max_queued_per_client
        if self.queue.waiting_for(client) >= limit:
            message = f"this client already has {limit} runs waiting (the server's limit)"
        elif len(self.queue.waiting) >= self.settings.max_queued:
            message = f"{self.settings.max_queued} runs are waiting already (the server's limit)"
        else:
            return
        raise ProtocolError(protocol.ErrorCode.BUSY.value, f"{message}; try again later", run_id)

    async def _watch(self, envelope: Sequence[bytes], request: protocol.Watch) -> None:
        if self.watchers.find(envelope[0], request.id) is not None:
            raise ProtocolError(
                protocol.ErrorCode.BAD_ARGS.value,
                f"a watch with id {request.id!r} is already active",
                request.id,
            )
        await self._send(envelope, protocol.Ack(request.id))
        now: list[protocol.Reply] = []
        if (current := self.queue.current) is not None and current.started is not None:
            now.append(current.started)
        for position, run in enumerate(self.queue.waiting, start=1):
            now.append(protocol.Queued(run.id, position, self.settings.liveness_s))
        self.watchers.add(envelope, request, now)

    async def _cancel(self, client: bytes, target: str | None, by: str | None) -> list[str]:
        if target is not None and self.watchers.remove(client, target, why="cancelled"):
            return [target]
        if target is None:
            runs = [run for run in self.queue if run.client == client]
        elif target == "current":
            runs = [self.queue.current] if self.queue.current is not None else []
        else:
            runs = [run for run in self.queue if run.id == target]
        who = f"another client's request ({by})" if by else "another client's request"
        for run in runs:
            if run.client == client:
                run.cancel()
            else:
                run.cancel(reason=protocol.EndReason.CANCELLED, detail=f"cancelled by {who}")
            if run is not self.queue.current:
                self.queue.remove(run)  # it never started: end it here
                await reject_queued(run, self._send)
        return [run.id for run in runs]

    def _pong(self, request_id: str) -> protocol.Pong:
        current = self.queue.current
        return protocol.Pong(
            request_id,
            time.time(),
            __version__,
            protocol.PROTOCOL_VERSION,
            (current.describe(),) if current is not None else (),
            len(self.queue.waiting),
            self.settings.liveness_s,
        )

    async def _send(self, envelope: Sequence[bytes], message: protocol.Reply) -> bool:
        return await self.clients.send(envelope, message)


def _split_envelope(frames: list[bytes]) -> tuple[list[bytes], list[bytes]]:
    """Identity (plus the empty delimiter a REQ socket adds) and the message proper."""
    if len(frames) > 2 and frames[1] == b"":
        return frames[:2], frames[2:]
    return frames[:1], frames[1:]


async def serve_forever(
    settings: ServerSettings, announce: Callable[[str], None] | None = None
) -> None:
    """Run a server until quit or SIGTERM/SIGINT; `announce` gets its one-line summary."""
    context = zmq.asyncio.Context()
    try:
        server = Server(settings, context)
        if announce is not None:
            server.announce = announce
        server.install_signal_handlers()
        with contextlib.suppress(asyncio.CancelledError):
            await server.serve()
    finally:
        # term() waits (up to the linger) until the last replies, such as `exit`, are out
        context.term()
        log.info("all replies delivered; exiting")
