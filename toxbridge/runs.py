"""Runs on the server side: their state, the queue, and relaying one run's output.

One tox at a time: `RunQueue` hands runs to the server's scheduler in order. `execute`
starts tox for a run, relays its output as `output` messages only while the client has
credit (so nothing is ever dropped by the ROUTER), and cancels the whole process tree
when asked.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from toxbridge import protocol
from toxbridge.errors import ProtocolError
from toxbridge.runner import ChildProcess, StopPolicy
from toxbridge.warm import WarmTox

log = logging.getLogger(__name__)

CHUNK_BYTES = 256 * 1024
# A read at least this big means a writer in full flow: pausing a moment lets it fill the
# pipe, so the stream crosses in a few large messages instead of many pipe-sized ones
# (per-message work on both sides is what a 2-core machine runs out of). Smaller reads,
# interactive output, go at once.
BULK_BYTES = 16 * 1024
BULK_SETTLE_S = 0.001
MAX_CREDIT = 1024  # bounds what a misbehaving client can make us queue in the socket
CANCEL_STALL_S = 2.0
CANCELLED_BEFORE_START = 130  # the shell's status for ^C
COMMAND_NOT_FOUND = 127  # the shell's status for a command that cannot be run

# What a request may set in tox's environment; the server adds more with --allow-env.
DEFAULT_ALLOWED_ENV = (
    "COLUMNS",
    "LINES",
    "TERM",
    "FORCE_COLOR",
    "NO_COLOR",
    "PY_COLORS",
    "PYTEST_ADDOPTS",
    "PYTHONHASHSEED",
    "PYTHONWARNINGS",
    "PYTHONFAULTHANDLER",
    "PYTHONDEVMODE",
    "TOXBRIDGE_USER_*",
)

Send = Callable[[Sequence[bytes], protocol.Reply], Awaitable[bool]]


@dataclass(frozen=True, slots=True)
class RunSettings:
    root: str
    tox_command: tuple[str, ...]
    stop_policy: StopPolicy = field(default_factory=StopPolicy)
    allowed_env: tuple[str, ...] = DEFAULT_ALLOWED_ENV
    tox_version: str | None = None
    warm: WarmTox | None = None  # None: exec tox per run (the cold path)


class ActiveRun:
    """A run from the moment it is accepted until its `exit` has been sent."""

    def __init__(self, envelope: Sequence[bytes], request: protocol.Run) -> None:
        self.envelope = tuple(envelope)
        self.request = request
        self.id = request.id
        self.credit = min(request.credit, MAX_CREDIT)
        self.cancel_requested = asyncio.Event()
        self.abandoned = False  # the client is gone: discard output instead of waiting
        self.discarding = False  # the client is there but takes no output (see take_credit)
        self.pid: int | None = None
        self.started_at: float | None = None
        self._credit_granted = asyncio.Event()

    @property
    def client(self) -> bytes:
        return self.envelope[0]

    def grant(self, n: int) -> None:
        self.credit = min(self.credit + n, MAX_CREDIT)
        self._credit_granted.set()

    def cancel(self, *, abandon: bool = False) -> None:
        self.abandoned = self.abandoned or abandon
        self.cancel_requested.set()
        self._credit_granted.set()

    async def take_credit(self) -> bool:
        """Wait for credit for one output message; False means: discard it.

        Output is discarded once the client is gone, or when a cancelled run's client
        grants no credit for `CANCEL_STALL_S`: a cancel must end the run even then.
        """
        while self.credit <= 0 and not (self.abandoned or self.discarding):
            self._credit_granted.clear()
            if not self.cancel_requested.is_set():
                await self._credit_granted.wait()
                continue
            try:
                async with asyncio.timeout(CANCEL_STALL_S):
                    await self._credit_granted.wait()
            except TimeoutError:
                log.warning("run %s: cancelled and its client takes no output; discarding", self.id)
                self.discarding = True
        if self.abandoned or self.discarding:
            return False
        self.credit -= 1
        return True

    def describe(self) -> dict[str, object]:
        return {
            "id": self.id,
            "args": list(self.request.args),
            "pid": self.pid,
            "started": self.started_at,
            "client": self.client.hex()[:16],
        }


class RunQueue:
    """Runs waiting for their turn, plus the one running now."""

    def __init__(self) -> None:
        self.waiting: deque[ActiveRun] = deque()
        self.current: ActiveRun | None = None
        self._added = asyncio.Event()

    def __iter__(self) -> Iterator[ActiveRun]:
        if self.current is not None:
            yield self.current
        yield from self.waiting

    def add(self, run: ActiveRun) -> int:
        """Queue `run`; returns its position (0 = it runs next)."""
        self.waiting.append(run)
        self._added.set()
        return len(self.waiting) - 1 + (self.current is not None)

    def remove(self, run: ActiveRun) -> None:
        with contextlib.suppress(ValueError):
            self.waiting.remove(run)

    def find(self, client: bytes, run_id: str) -> ActiveRun | None:
        return next((r for r in self if r.client == client and r.id == run_id), None)

    async def next_run(self) -> ActiveRun | None:
        """The next run, or None when woken by `wake()` with nothing waiting."""
        if not self.waiting:
            self._added.clear()
            await self._added.wait()
        return self.waiting.popleft() if self.waiting else None

    def wake(self) -> None:
        self._added.set()


def check_request(request: protocol.Run, allowed: Sequence[str]) -> None:
    """Refuse, as `bad-args`, what cannot reach tox: unpassable text, disallowed variables."""
    for text in (*request.args, *request.env, *request.env.values()):
        if not _passable(text):
            raise ProtocolError(
                protocol.ErrorCode.BAD_ARGS.value,
                f"{text!r} cannot be passed to a process (NUL or an unpaired surrogate)",
                request.id,
            )
    for name in request.env:
        if not env_name_allowed(name, allowed):
            raise ProtocolError(
                protocol.ErrorCode.BAD_ARGS.value,
                f"environment variable {name!r} may not be set by a client; allowed: "
                f"{', '.join(allowed)} (the server adds more with --allow-env)",
                request.id,
            )


def build_env(
    request: protocol.Run, allowed: Sequence[str], base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """tox's environment: the server's, the request's allowed overrides, and colour."""
    check_request(request, allowed)
    env = dict(os.environ if base is None else base)
    env.update(request.env)
    if request.color:
        env.pop("NO_COLOR", None)
        env.update(FORCE_COLOR="1", PY_COLORS="1")
    return env


def _passable(text: str) -> bool:
    """True when `text` can become an argv or environ entry."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return False
    return True


def env_name_allowed(name: str, allowed: Sequence[str]) -> bool:
    return any(
        name.startswith(pattern[:-1]) if pattern.endswith("*") else name == pattern
        for pattern in allowed
    )


def tox_argv(settings: RunSettings, request: protocol.Run) -> list[str]:
    colour = ["--colored", "yes"] if request.color else []
    return [*settings.tox_command, *colour, *request.args]


async def execute(run: ActiveRun, settings: RunSettings, send: Send) -> None:
    """Run tox for `run` and relay everything up to and including its `exit`."""
    started = time.monotonic()
    try:
        code = await _run_tox(run, settings, send)
    except (OSError, ValueError) as error:
        # tox could not be started at all: say so as the shell would, and end the run
        log.error("run %s: cannot start tox: %s", run.id, error)
        code = COMMAND_NOT_FOUND
        text = f"toxbridge: cannot start {' '.join(settings.tox_command)}: {error}\n"
        await send(run.envelope, protocol.Output(run.id, protocol.Stream.STDERR, 0, text.encode()))
    except Exception:
        # a bug of ours, not the client's doing: say so, and keep serving the others
        log.exception("run %s failed inside the server", run.id)
        message = "internal error while running tox; the server log has the details"
        await send(run.envelope, protocol.Error(run.id, protocol.ErrorCode.INTERNAL, message))
        return
    duration = time.monotonic() - started
    cancelled = run.cancel_requested.is_set()
    log.info("run %s exited %d (cancelled=%s) in %.2fs", run.id, code, cancelled, duration)
    if not run.abandoned:
        await send(run.envelope, protocol.Exit(run.id, code, cancelled, round(duration, 4)))


async def _run_tox(run: ActiveRun, settings: RunSettings, send: Send) -> int:
    async with _start_tox(settings, run.request) as child:
        run.pid, run.started_at = child.pid, time.time()
        log.info("run %s started tox (pid %d): %s", run.id, child.pid, run.request.args)
        started_msg = protocol.Started(run.id, child.pid, settings.root, settings.tox_version)
        await send(run.envelope, started_msg)
        async with asyncio.TaskGroup() as tasks:
            exited = tasks.create_task(child.wait())
            canceller = tasks.create_task(_stop_on_cancel(run, child, settings.stop_policy))
            await _relay(run, child, send)
            code = await exited
            if not child.stopping:
                canceller.cancel()
    return code


def _start_tox(
    settings: RunSettings, request: protocol.Run
) -> contextlib.AbstractAsyncContextManager[ChildProcess]:
    argv = tox_argv(settings, request)
    env = build_env(request, settings.allowed_env)
    if settings.warm is not None:
        args = argv[len(settings.tox_command) :]
        return settings.warm.start(args, env=env, policy=settings.stop_policy)
    return ChildProcess.start(argv, cwd=settings.root, env=env, policy=settings.stop_policy)


async def _stop_on_cancel(run: ActiveRun, child: ChildProcess, policy: StopPolicy) -> None:
    await run.cancel_requested.wait()
    log.info("run %s: stopping process group %d", run.id, child.pid)
    await child.stop(policy)


async def _relay(run: ActiveRun, child: ChildProcess, send: Send) -> None:
    seq = 0
    while True:
        keep = await run.take_credit()
        chunk = await child.read(CHUNK_BYTES)
        if chunk is None:
            return
        if BULK_BYTES <= len(chunk.data) < CHUNK_BYTES:
            await asyncio.sleep(BULK_SETTLE_S)
            chunk = child.top_up(chunk, CHUNK_BYTES)
        if keep:
            stream = protocol.Stream(chunk.pipe.value)
            await send(run.envelope, protocol.Output(run.id, stream, seq, chunk.data))
            seq += 1
        # a child that never pauses must not starve pings and cancels
        await asyncio.sleep(0)


async def reject_queued(run: ActiveRun, send: Send) -> None:
    """End a run that was cancelled before it started."""
    run.cancel_requested.set()
    if not run.abandoned:
        await send(run.envelope, protocol.Exit(run.id, CANCELLED_BEFORE_START, True, 0.0))
