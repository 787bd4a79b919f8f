"""The server's end of a run's test-events channel: a unix socket in a private directory.

    async with EventChannel.open() as channel:       # ChannelError: run without events
        env["TOXBRIDGE_EVENTS"] = channel.address
        ... start tox; meanwhile: async for item in channel: (Record or ChannelNote) ...
        await channel.finish()                       # tox has exited: drain, then end
    # the directory is gone

A unix stream socket, not a FIFO: every pytest process of the run (`tox p` runs several
envs at once, each xdist worker gw0 adds one) connects on its own, so records never
interleave inside a line, and a writer that dies mid-line loses only that line. The
directory (mode 0700) also holds the reporter's copy that the tox plugin puts on the
envs' PYTHONPATH.

Nothing here can change the run: it reads whatever arrives and never writes back. Bad
lines, lines over `max_line` bytes and lines cut off by a dying writer become
`ChannelNote`s in the stream instead of records. Memory is bounded: at most
`max_queued` items (and, if set, `max_bytes` of LineChannel's lines) wait for the
consumer; beyond that the channel stops reading (the writers' sockets fill up; a
reporter that cannot write for its timeout goes quiet and its pytest carries on), and
each writer's unfinished line is at most `max_line` bytes.

`LineChannel` is the same channel without decoding: it yields each complete line (bytes,
newline removed) for a reader that only forwards them, such as the server, whose clients
decode them (`reporter.events.read_lines`) and so the server spends nothing per record.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import shutil
import socket
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Generic, Self, TypeVar

from toxbridge.errors import ToxbridgeError
from toxbridge.reporter.events import BadRecord, Record, decode_line

log = logging.getLogger(__name__)

SOCKET_NAME = "events.sock"
MAX_LINE = 8 * 1024 * 1024
MAX_QUEUED = 10_000
MAX_SOCKET_PATH = 100  # sun_path holds 108 bytes on Linux, fewer elsewhere


class ChannelError(ToxbridgeError):
    """The channel could not be set up; the run goes on without test events."""


@dataclass(frozen=True, slots=True)
class ChannelNote:
    """Something the channel dropped; `writer` numbers the connection it came from."""

    writer: int
    message: str


Item = Record | ChannelNote
T = TypeVar("T")


class _Channel(Generic[T]):
    """The listening socket, its writers, and the queue of what they sent."""

    def __init__(
        self, directory: str, max_line: int, max_queued: int, max_bytes: int | None = None
    ) -> None:
        self.directory = directory
        self.address = os.path.join(directory, SOCKET_NAME)
        self.max_line = max_line
        self.max_queued = max_queued
        self.max_bytes = max_bytes  # of the lines waiting (LineChannel), if bounded
        self._bytes = 0
        self.records = 0
        self.notes = 0
        self._queue: collections.deque[T | ChannelNote] = collections.deque()
        self._writers: set[_Writer] = set()
        self._count = 0
        self._paused = False
        self._finished = False
        self._arrived = asyncio.Event()  # an item, or the end
        self._departed = asyncio.Event()  # a writer left
        self._server: asyncio.Server | None = None

    @classmethod
    @contextlib.asynccontextmanager
    async def open(
        cls,
        *,
        parent: str | None = None,
        max_line: int = MAX_LINE,
        max_queued: int = MAX_QUEUED,
        max_bytes: int | None = None,
    ) -> AsyncIterator[Self]:
        directory = _private_directory(parent)
        channel = cls(directory, max_line, max_queued, max_bytes)
        try:
            await channel._listen()
            yield channel
        finally:
            channel._close()
            shutil.rmtree(directory, ignore_errors=True)

    async def _listen(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(self.address)
            sock.listen(128)
            sock.setblocking(False)
            loop = asyncio.get_running_loop()
            self._server = await loop.create_unix_server(self._writer, sock=sock)
        except OSError as error:
            sock.close()
            raise ChannelError(
                f"cannot listen for test events at {self.address}: {error}"
            ) from error

    def _writer(self) -> _Writer:
        self._count += 1
        return _Writer(self, self._count)

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> T | ChannelNote:
        while not self._queue:
            if self._finished and not self._writers:
                raise StopAsyncIteration
            self._arrived.clear()
            await self._arrived.wait()
        item = self._queue.popleft()
        self._bytes -= _size(item)
        if self._paused and self._half_empty():
            self._paused = False
            for writer in self._writers:
                writer.resume()
        return item

    async def finish(self, grace_s: float = 1.0) -> None:
        """No new writers; wait up to `grace_s` for the connected ones to end, then cut them.

        Call it once tox has exited: what its pytest processes wrote is then all in the
        sockets. The iteration ends once the queue is empty.
        """
        if self._server is not None:
            self._server.close()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace_s):
                while self._writers:
                    self._departed.clear()
                    await self._departed.wait()
        for writer in list(self._writers):
            self._note(writer.number, "the writer was still connected after the run: cut off")
            writer.abort()
        self._finished = True
        self._arrived.set()

    def _close(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.abort()
        self._finished = True
        self._arrived.set()

    def _full(self) -> bool:
        over_bytes = self.max_bytes is not None and self._bytes >= self.max_bytes
        return len(self._queue) >= self.max_queued or over_bytes

    def _half_empty(self) -> bool:
        bytes_ok = self.max_bytes is None or self._bytes <= self.max_bytes // 2
        return len(self._queue) <= self.max_queued // 2 and bytes_ok

    def _put(self, item: T | ChannelNote) -> None:
        self._queue.append(item)
        self._bytes += _size(item)
        self._arrived.set()
        if not self._paused and self._full():
            self._paused = True
            for writer in self._writers:
                writer.pause()

    def _line(self, number: int, line: bytes) -> None:
        raise NotImplementedError

    def _note(self, number: int, message: str) -> None:
        log.warning("test events (writer %d): %s", number, message)
        self.notes += 1
        self._put(ChannelNote(number, message))

    def _joined(self, writer: _Writer) -> None:
        self._writers.add(writer)
        if self._paused:
            writer.pause()

    def _left(self, writer: _Writer) -> None:
        self._writers.discard(writer)
        self._departed.set()
        self._arrived.set()  # the end may have come


class EventChannel(_Channel[Record]):
    """Yields each line decoded: a Record, or a ChannelNote for a line that is none."""

    def _line(self, number: int, line: bytes) -> None:
        try:
            record = decode_line(line)
        except BadRecord as error:
            self._note(number, f"a line that is not a record was dropped: {error}")
            return
        self.records += 1
        self._put(record)


class LineChannel(_Channel[bytes]):
    """Yields each complete line as it came (its newline removed), undecoded."""

    def _line(self, number: int, line: bytes) -> None:
        self.records += 1
        self._put(line)


def _size(item: object) -> int:
    return len(item) if isinstance(item, bytes) else 0


def _private_directory(parent: str | None) -> str:
    parent = parent or tempfile.gettempdir()
    if len(os.path.join(parent, "toxbridge-events-xxxxxxxx", SOCKET_NAME)) > MAX_SOCKET_PATH:
        parent = "/tmp"  # noqa: S108 (a short path for the socket; mkdtemp makes it private)
    try:
        return tempfile.mkdtemp(prefix="toxbridge-events-", dir=parent)  # mode 0700
    except OSError as error:
        raise ChannelError(
            f"cannot create a directory for test events in {parent}: {error}"
        ) from error


class _Writer(asyncio.Protocol):
    """One pytest process's connection: bytes in, complete lines out to the channel."""

    def __init__(self, channel: _Channel[Any], number: int) -> None:
        self.channel = channel
        self.number = number
        self.partial = bytearray()
        self.discarding = False  # inside a line over the limit, until its newline
        self.transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.channel._joined(self)

    def data_received(self, data: bytes) -> None:
        start = 0
        while (end := data.find(b"\n", start)) >= 0:
            self._complete(data[start:end])
            start = end + 1
        rest = data[start:]
        if self.discarding or not rest:
            return
        if len(self.partial) + len(rest) > self.channel.max_line:
            self._too_long()
        else:
            self.partial += rest

    def _complete(self, tail: bytes) -> None:
        if self.discarding:
            self.discarding = False
            return
        if len(self.partial) + len(tail) > self.channel.max_line:
            self._too_long()
            self.discarding = False
            return
        line = bytes(self.partial + tail) if self.partial else tail
        self.partial.clear()
        if line.strip():
            self.channel._line(self.number, line)

    def _too_long(self) -> None:
        self.partial.clear()
        self.discarding = True
        limit = self.channel.max_line
        self.channel._note(self.number, f"a line over {limit} bytes was dropped")

    def connection_lost(self, exc: Exception | None) -> None:
        if self.partial:
            size = len(self.partial)
            self.channel._note(self.number, f"the writer left in mid-line: {size} bytes dropped")
            self.partial.clear()
        self.channel._left(self)

    def pause(self) -> None:
        if isinstance(self.transport, asyncio.ReadTransport) and not self.transport.is_closing():
            self.transport.pause_reading()

    def resume(self) -> None:
        if isinstance(self.transport, asyncio.ReadTransport) and not self.transport.is_closing():
            self.transport.resume_reading()

    def abort(self) -> None:
        if isinstance(self.transport, asyncio.Transport):
            self.transport.abort()
