"""A run's test events: the channel tox's pytest writes to, and `test` messages out.

For a run whose request asks for events (`run.events`), or any run while a client watches
the server (so a run started in a pipeline reaches the editors with its exact results too;
its own client gets `test` messages it may ignore), unless the server was started with
`--no-test-events`:

    async with run_events(run, enabled, env) as feed:    # None: the run goes without
        ... start tox with `env` (TOXBRIDGE_EVENTS set here, whatever the client sent) ...
        while relaying output: await feed.first(reading) → feed.take() → a `test` message
        ... once tox has exited: await feed.finish(), then send what is left
    # the channel is closed and its directory removed, however the run ended

The reporter's lines go out as they came (a `LineChannel`: the server never decodes a
record; clients do). They wait in a buffer bounded in bytes (`MAX_BUFFER_BYTES`); when
it is full, the feed stops reading the channel, whose own bound then makes the reporters
wait (and, past their timeout, go quiet while pytest carries on): a client that takes
no output holds back its events exactly as it holds back tox's pipe. `test` messages
take credit and a `seq` from the same count as `output`, so a client sees both in the
order they were sent. A channel that cannot open, or breaks, only costs the run its events.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping, Sequence
from typing import Any

from toxbridge.reporter.events import ADDRESS_VARIABLE, ENV_VARIABLE, REPORTLOG_VARIABLE
from toxbridge.server.channel import ChannelError, ChannelNote, LineChannel
from toxbridge.server.queue import ActiveRun
from toxbridge.wire import protocol

log = logging.getLogger(__name__)

BATCH_BYTES = 64 * 1024  # a `test` message carries about this much, or what is queued
MAX_BUFFER_BYTES = 4 * 1024 * 1024  # records waiting for credit, per run
CHANNEL_QUEUE = 1000  # records the channel itself holds before it stops reading
# ... and their bytes: MAX_BUFFER_BYTES there too, at most, beside the feed's
OURS = (ADDRESS_VARIABLE, ENV_VARIABLE, REPORTLOG_VARIABLE)  # never a client's to set

Send = Callable[[Sequence[bytes], protocol.Reply], Awaitable[bool]]


class EventFeed:
    """The channel's lines (records, as the reporter wrote them), waiting in a bounded
    buffer to go out in batches."""

    def __init__(self, run_id: str, channel: LineChannel, max_bytes: int) -> None:
        self.run_id = run_id
        self.channel = channel
        self.max_bytes = max_bytes
        self.records = 0  # sent or dropped, in all
        self.notes = 0
        self._lines: collections.deque[bytes] = collections.deque()
        self._bytes = 0
        self._ready = asyncio.Event()  # a record waits, or the feed has ended
        self._room = asyncio.Event()
        self._ended = False
        self._pump: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._pump = asyncio.create_task(self._read_channel())

    async def _read_channel(self) -> None:
        try:
            async for item in self.channel:
                if isinstance(item, ChannelNote):
                    self.notes += 1
                    continue
                line = item + b"\n"  # forwarded as it came: clients decode it
                self._lines.append(line)
                self._bytes += len(line)
                self.records += 1
                self._ready.set()
                while self._bytes >= self.max_bytes:
                    self._room.clear()
                    await self._room.wait()
        except Exception:
            log.exception("run %s: the test events channel failed; the run goes on", self.run_id)
        finally:
            self._ended = True
            self._ready.set()

    async def first(self, reading: asyncio.Future[Any]) -> bool:
        """Wait for `reading` or a record; True when a batch is ready and `reading` is not."""
        while not reading.done() and not self._lines:
            if self._ended:
                await asyncio.wait({reading})
                break
            self._ready.clear()
            waiter = asyncio.ensure_future(self._ready.wait())
            try:
                await asyncio.wait({reading, waiter}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                waiter.cancel()
        return not reading.done() and bool(self._lines)

    def take(self, max_bytes: int = BATCH_BYTES) -> tuple[int, bytes]:
        """What waits, up to about `max_bytes` (one record at least): (count, lines)."""
        taken: list[bytes] = []
        size = 0
        while self._lines and (not taken or size + len(self._lines[0]) <= max_bytes):
            line = self._lines.popleft()
            taken.append(line)
            size += len(line)
        self._bytes -= size
        self._room.set()
        return len(taken), b"".join(taken)

    async def finish(self) -> None:
        """tox has exited: no new writers; the connected ones get a moment to end."""
        await self.channel.finish()

    async def more(self) -> bool:
        """After `finish`: wait for the next batch; False once everything has been taken."""
        while not self._lines:
            if self._ended:
                return False
            self._ready.clear()
            await self._ready.wait()
        return True

    async def close(self) -> None:
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
        if self.records or self.notes:
            log.info(
                "run %s: %d test event(s), %d channel note(s)",
                self.run_id,
                self.records,
                self.notes,
            )


def clean_env(env: MutableMapping[str, str]) -> None:
    """The variables that turn the reporter on are the server's alone."""
    for name in OURS:
        env.pop(name, None)


@contextlib.asynccontextmanager
async def run_events(
    run: ActiveRun, enabled: bool, env: MutableMapping[str, str], *, watched: bool = False
) -> AsyncIterator[EventFeed | None]:
    """The run's feed, with `env` set for tox; None (and `env` without our variables)
    when neither the run asks nor a watcher (`watched`) wants them, the server does not
    allow, or the channel cannot open."""
    clean_env(env)
    if not (enabled and (run.request.events or watched)):
        yield None
        return
    async with contextlib.AsyncExitStack() as stack:
        try:
            opening = LineChannel.open(max_queued=CHANNEL_QUEUE, max_bytes=MAX_BUFFER_BYTES)
            channel: LineChannel | None = await stack.enter_async_context(opening)
        except ChannelError as error:
            log.warning("run %s: no test events: %s", run.id, error)
            channel = None
        if channel is None:
            yield None
            return
        env[ADDRESS_VARIABLE] = channel.address
        if run.request.report_log:
            env[REPORTLOG_VARIABLE] = "1"
        feed = EventFeed(run.id, channel, MAX_BUFFER_BYTES)
        feed.start()
        try:
            yield feed
        finally:
            await feed.close()


async def forward(run: ActiveRun, feed: EventFeed, send: Send, keep: bool) -> None:
    """One batch as a `test` message, numbered with the run's output; dropped unless `keep`
    (the credit the caller took for it said so)."""
    count, data = feed.take()
    if keep:
        await send(run.envelope, protocol.Test(run.id, run.sent, count, data))
        run.sent += 1


async def forward_rest(run: ActiveRun, feed: EventFeed, send: Send) -> None:
    """tox has exited: what its pytest processes still had to say, before the `exit`."""
    await feed.finish()
    while await feed.more():
        await forward(run, feed, send, await run.take_credit())
