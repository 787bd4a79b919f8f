"""Our stdout and stderr, written without ever blocking the event loop.

A terminal paused with ^S, a pager, a slow ssh link: any of them can make a write wait for
minutes. One thread does every write, in the order given, so stdout and stderr keep their
interleaving; the loop only queues, and `write` waits (asynchronously) while more than
`limit` bytes are queued, which is what makes the relay stop granting credit. Heartbeats
and signals are handled meanwhile.

A reader that leaves (`| head -1`) is noticed when a write fails, or, for a pipe, the
moment it closes its end even while nothing is being written (the kernel reports an
error condition on our end). Either way `left` is set and later writes are dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import select
import stat
import threading
from collections.abc import Callable

WRITE_BUFFER_BYTES = 1 << 20


class OutputWriter:
    """`async with OutputWriter() as out:` then `await out.write(fd, data)`, `drain()`."""

    def __init__(self, fds: tuple[int, ...] = (1, 2), limit: int = WRITE_BUFFER_BYTES) -> None:
        self.fds = fds
        self.limit = limit
        self.left: OSError | None = None  # why we cannot write any more: its reader left
        self.left_fd: int | None = None
        self._queue: queue.SimpleQueue[tuple[int, bytes] | None] = queue.SimpleQueue()
        # bytes queued (by the loop) and written (by the thread), each written by one side
        # only; the thread wakes the loop only when it waits, not once per message
        self._queued = self._written = 0
        self._loop_waits = False
        self._changed = asyncio.Event()
        self._gone = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._watched: list[int] = []
        # a daemon: a reader that never reads must not keep the process alive at exit
        self._thread = threading.Thread(target=self._run, name="toxbridge-output", daemon=True)

    async def __aenter__(self) -> OutputWriter:
        self._thread.start()
        for fd in self.fds:
            if _is_pipe(fd):
                self._loop.add_reader(fd, self._reader_left, fd, BrokenPipeError(32, "reader left"))
                self._watched.append(fd)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        for fd in self._watched:
            self._loop.remove_reader(fd)
        self._queue.put(None)

    async def write(self, fd: int, data: bytes) -> None:
        """Queue `data` for `fd`, first waiting until fewer than `limit` bytes are queued."""
        while self._pending() >= self.limit and self.left is None:
            await self._wait(lambda: self._pending() >= self.limit)
        self.write_nowait(fd, data)

    def write_nowait(self, fd: int, data: bytes) -> None:
        """Queue `data` now, whatever is queued: for our own short lines."""
        if self.left is None and data:
            self._queued += len(data)
            self._queue.put((fd, data))

    async def drain(self) -> None:
        """Until everything queued is written, or the reader has left."""
        while self._pending() and self.left is None:
            await self._wait(lambda: self._pending() > 0)

    async def wait_left(self) -> OSError:
        await self._gone.wait()
        assert self.left is not None  # noqa: S101 (set with the event)
        return self.left

    def _pending(self) -> int:
        return self._queued - self._written

    async def _wait(self, still: Callable[[], bool]) -> None:
        """Until the thread has written more (or the reader left), if `still` holds."""
        self._changed.clear()
        self._loop_waits = True
        try:
            if still() and self.left is None:  # the thread may have written meanwhile
                await self._changed.wait()
        finally:
            self._loop_waits = False

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            fd, data = item
            try:
                _write_all(fd, data)
            except OSError as error:
                self._loop.call_soon_threadsafe(self._reader_left, fd, error)
            finally:
                self._written += len(data)
                if self._loop_waits:
                    self._loop.call_soon_threadsafe(self._changed.set)

    def _reader_left(self, fd: int, error: OSError) -> None:
        if self.left is None:
            self.left, self.left_fd = error, fd
            self._gone.set()
        with contextlib.suppress(ValueError):
            self._watched.remove(fd)
            self._loop.remove_reader(fd)
        self._changed.set()


def _is_pipe(fd: int) -> bool:
    try:
        return stat.S_ISFIFO(os.fstat(fd).st_mode)
    except OSError:
        return False


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            written = os.write(fd, view)
        except BlockingIOError:  # a terminal someone left in non-blocking mode
            select.select([], [fd], [])
            continue
        view = view[written:]
