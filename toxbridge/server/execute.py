"""Executing one run: start tox, relay its output against credit, cancel its tree.

`execute` starts tox for a run, relays its output as `output` messages only while the
client has credit (so nothing is ever dropped by the ROUTER), and cancels the whole
process tree when asked.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from toxbridge.process import leftovers
from toxbridge.process.child import ChildProcess, Chunk, StopPolicy
from toxbridge.process.pty import start_child
from toxbridge.process.warm.supervisor import WarmTox
from toxbridge.server.events import EventFeed, forward, forward_rest, run_events
from toxbridge.server.policy import DEFAULT_ALLOWED_ENV, build_env
from toxbridge.server.queue import ActiveRun
from toxbridge.wire import protocol

log = logging.getLogger(__name__)

CHUNK_BYTES = 256 * 1024
# A read at least this big means a writer in full flow: pausing a moment lets it fill the
# pipe, so the stream crosses in a few large messages instead of many pipe-sized ones
# (per-message work on both sides is what a 2-core machine runs out of). Smaller reads,
# interactive output, go at once.
BULK_BYTES = 16 * 1024
BULK_SETTLE_S = 0.001
# A pty's master gives at most about 4 KiB per read: one at least this big is a full flow.
PTY_BULK_BYTES = 2048
CANCELLED_BEFORE_START = 130  # the shell's status for ^C
COMMAND_NOT_FOUND = 127  # the shell's status for a command that cannot be run

Send = Callable[[Sequence[bytes], protocol.Reply], Awaitable[bool]]


@dataclass(frozen=True, slots=True)
class RunSettings:
    root: str
    tox_command: tuple[str, ...]
    stop_policy: StopPolicy = field(default_factory=StopPolicy)
    allowed_env: tuple[str, ...] = DEFAULT_ALLOWED_ENV
    tox_version: str | None = None
    warm: WarmTox | None = None  # None: exec tox per run (the cold path)
    # what a run leaves running outside tox's group: killed (True) or only named (False);
    # cancel kills it either way. Found only when this process is a child subreaper.
    kill_leftovers: bool = True
    strays: set[leftovers.Proc] = field(default_factory=set)  # left running on purpose
    test_events: bool = True  # runs that ask get test events (`serve --no-test-events`)


def tox_argv(settings: RunSettings, request: protocol.Run) -> list[str]:
    colour = ["--colored", "yes"] if request.color else []
    return [*settings.tox_command, *colour, *request.args]


async def execute(
    run: ActiveRun, settings: RunSettings, send: Send, *, watched: bool = False
) -> None:
    """Run tox for `run` and relay everything up to and including its `exit`. `watched`:
    someone watches every run, so the run has test events whether its client asked or not."""
    started = time.monotonic()
    try:
        code = await _run_tox(run, settings, send, watched)
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
        exit_ = protocol.Exit(
            run.id, code, cancelled, round(duration, 4), run.end_reason, run.end_detail
        )
        await send(run.envelope, exit_)


async def _run_tox(run: ActiveRun, settings: RunSettings, send: Send, watched: bool) -> int:
    before = leftovers.snapshot() if leftovers.is_subreaper() else None
    try:
        code = await _run_started(run, settings, send, watched)
    finally:
        if run.terminal is not None:
            run.terminal.close()
    if before is not None:
        await _end_leftovers(run, settings, before, send)
    return code


async def _run_started(run: ActiveRun, settings: RunSettings, send: Send, watched: bool) -> int:
    env = build_env(run.request, settings.allowed_env)
    async with (
        run_events(run, settings.test_events, env, watched=watched) as feed,
        _start_tox(settings, run, env) as child,
    ):
        run.pid, run.started_at = child.pid, time.time()
        if run.terminal is not None:
            run.terminal.started(child.pid)
        log.info("run %s started tox (pid %d): %s", run.id, child.pid, run.request.args)
        started_msg = protocol.Started(
            run.id,
            child.pid,
            settings.root,
            settings.tox_version,
            run.liveness_s,
            run.window,
            events=feed is not None,
            args=run.request.args,
        )
        run.started = started_msg
        await send(run.envelope, started_msg)
        async with asyncio.TaskGroup() as tasks:
            exited = tasks.create_task(child.wait())
            canceller = tasks.create_task(_stop_on_cancel(run, child, settings.stop_policy))
            await _relay(run, child, send, feed)
            code = await exited
            if not child.stopping:
                canceller.cancel()
            if feed is not None:
                await forward_rest(run, feed, send)
    return code


async def _end_leftovers(
    run: ActiveRun, settings: RunSettings, before: frozenset[leftovers.Proc], send: Send
) -> None:
    """Name, in one line on the run's stderr, what it left running; kill it if we should."""
    workers = settings.warm.worker_pids() if settings.warm is not None else ()
    # tox has been reaped: only the warm worker is a child asyncio still waits for
    if reaped := leftovers.reap_adopted(exclude=workers):
        log.info("run %s: reaped %d orphan(s) that exited during the run", run.id, reaped)
    found = leftovers.find(before, exclude=workers)
    if not found:
        return
    names = ", ".join(proc.describe() for proc in found)
    count = f"{len(found)} process{'es' if len(found) > 1 else ''}"
    if run.cancel_requested.is_set() or settings.kill_leftovers:
        await leftovers.kill(found)
        line = f"toxbridge: killed {count} the run left running outside tox's group: {names}"
    else:
        settings.strays.update(found)
        line = (
            f"toxbridge: the run left {count} running: {names} "
            "(`toxbridge serve --kill-leftovers` ends them)"
        )
    log.warning("run %s: %s", run.id, line.removeprefix("toxbridge: "))
    if await run.take_credit():
        stderr = protocol.Output(run.id, protocol.Stream.STDERR, run.sent, f"{line}\n".encode())
        await send(run.envelope, stderr)
        run.sent += 1


def _start_tox(
    settings: RunSettings, run: ActiveRun, env: dict[str, str]
) -> contextlib.AbstractAsyncContextManager[ChildProcess]:
    argv = tox_argv(settings, run.request)
    if run.terminal is not None:
        run.terminal.adjust_env(env)
    pty = run.terminal.open() if run.terminal is not None else None
    if settings.warm is not None:
        args = argv[len(settings.tox_command) :]
        return settings.warm.start(args, env=env, policy=settings.stop_policy, pty=pty)
    return start_child(argv, cwd=settings.root, env=env, policy=settings.stop_policy, pty=pty)


async def _stop_on_cancel(run: ActiveRun, child: ChildProcess, policy: StopPolicy) -> None:
    await run.cancel_requested.wait()
    log.info("run %s: stopping process group %d", run.id, child.pid)
    if run.terminal is not None:
        run.terminal.continue_stopped()
    await child.stop(policy)


async def _relay(run: ActiveRun, child: ChildProcess, send: Send, feed: EventFeed | None) -> None:
    reading: asyncio.Task[Chunk | None] | None = None
    try:
        while True:
            keep = await run.take_credit()
            if feed is None:
                chunk = await child.read(CHUNK_BYTES)
            else:  # whichever comes first: output, or test events (the read stays pending)
                reading = reading or asyncio.create_task(child.read(CHUNK_BYTES))
                if await feed.first(reading):
                    await forward(run, feed, send, keep)
                    continue
                chunk, reading = reading.result(), None
            if chunk is None:
                return
            await _send_chunk(run, child, chunk, send, keep)
    finally:
        if reading is not None:
            reading.cancel()


async def _send_chunk(
    run: ActiveRun, child: ChildProcess, chunk: Chunk, send: Send, keep: bool
) -> None:
    bulk = PTY_BULK_BYTES if run.terminal is not None else BULK_BYTES
    if bulk <= len(chunk.data) < CHUNK_BYTES:
        await asyncio.sleep(BULK_SETTLE_S)
        chunk = child.top_up(chunk, CHUNK_BYTES)
    if keep:
        stream = protocol.Stream(chunk.pipe.value)
        await send(run.envelope, protocol.Output(run.id, stream, run.sent, chunk.data))
        run.sent += 1
    # a child that never pauses must not starve pings and cancels
    await asyncio.sleep(0)


async def reject_queued(run: ActiveRun, send: Send) -> None:
    """End a run that was cancelled before it started."""
    run.cancel_requested.set()
    if not run.abandoned:
        exit_ = protocol.Exit(
            run.id, CANCELLED_BEFORE_START, True, 0.0, run.end_reason, run.end_detail
        )
        await send(run.envelope, exit_)
