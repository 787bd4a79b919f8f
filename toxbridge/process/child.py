"""Start a command in its own session, read its output on demand, stop its whole tree.

No ZMQ here. Output is read only when the caller asks for it (`read`), so a caller that
stops asking stops the child: the pipe fills and the child blocks in `write`. That is
the backpressure the server's flow control relies on.

Stopping follows tox's own three steps: SIGINT to the process group (tox tears its
environments down), then SIGTERM, then SIGKILL, each after a grace period. Whatever is
left in the group once the command has exited is killed and, where this process is the
subreaper, reaped.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import logging
import os
import signal
import subprocess
import sys
import termios
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

log = logging.getLogger(__name__)

PIPE_CAPACITY = 1 << 20  # bigger pipes mean bigger reads and fewer wake-ups
_F_SETPIPE_SZ = 1031  # from linux/fcntl.h; not exposed by fcntl before Python 3.10 on all builds


class Pipe(str, Enum):
    STDOUT = "stdout"
    STDERR = "stderr"


@dataclass(frozen=True, slots=True)
class Chunk:
    pipe: Pipe
    data: bytes


@dataclass(frozen=True, slots=True)
class StopPolicy:
    """Grace periods, in seconds, after SIGINT and after SIGTERM before escalating."""

    sigint_grace: float = 2.0
    sigterm_grace: float = 1.0


DEFAULT_STOP_POLICY = StopPolicy()


class Process(Protocol):
    """What `ChildProcess` needs of a process: asyncio's, or one forked elsewhere."""

    @property
    def pid(self) -> int: ...

    @property
    def returncode(self) -> int | None: ...

    async def wait(self) -> int: ...


class ChildProcess:
    """A running command; create it with `ChildProcess.start` (or `adopt`)."""

    def __init__(self, process: Process, pipes: dict[int, Pipe]) -> None:
        self._process = process
        self._pipes = pipes  # read end -> which pipe; removed at EOF
        self._order = list(pipes)
        self.pid = process.pid
        self.stopping = False
        # once the group is gone: what each pipe still holds, the rest of its output. A
        # process that left the group may hold a pipe open for ever; it is not waited for.
        self._remaining: dict[int, int] | None = None
        self._group_gone = asyncio.Event()

    @classmethod
    @contextlib.asynccontextmanager
    async def start(
        cls,
        argv: Sequence[str],
        *,
        cwd: str,
        env: Mapping[str, str],
        policy: StopPolicy | None = None,
    ) -> AsyncIterator[ChildProcess]:
        """Run `argv`; on leaving the block the child and its group are gone and reaped."""
        policy = policy or StopPolicy()
        out_read, out_write = output_pipe()
        err_read, err_write = output_pipe()
        try:
            process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=subprocess.DEVNULL,
                stdout=out_write,
                stderr=err_write,
                cwd=cwd,
                env=dict(env),
                start_new_session=True,
                preexec_fn=die_with_parent_hook(),
            )
        except BaseException:
            for fd in (out_read, out_write, err_read, err_write):
                os.close(fd)
            raise
        os.close(out_write)
        os.close(err_write)
        child = cls(process, {out_read: Pipe.STDOUT, err_read: Pipe.STDERR})
        try:
            yield child
        finally:
            await child._finish(policy)

    @classmethod
    @contextlib.asynccontextmanager
    async def adopt(
        cls, process: Process, stdout: int, stderr: int | None, policy: StopPolicy | None = None
    ) -> AsyncIterator[ChildProcess]:
        """Take charge of a process someone else started in its own session, with the read
        ends of its output pipes (from `output_pipe`; a pty's master and no stderr for a
        terminal); the same guarantees as `start`."""
        pipes = (
            {stdout: Pipe.STDOUT} if stderr is None else {stdout: Pipe.STDOUT, stderr: Pipe.STDERR}
        )
        child = cls(process, pipes)
        try:
            yield child
        finally:
            await child._finish(policy or StopPolicy())

    @property
    def returncode(self) -> int | None:
        return self._process.returncode

    async def read(self, max_bytes: int) -> Chunk | None:
        """The next piece of output from either pipe, or None once both are closed (or,
        once the group is gone, drained of what they held then)."""
        while self._pipes:
            for fd in list(self._order):
                try:
                    data = _read(fd, self._allowed(fd, max_bytes))
                except BlockingIOError:
                    continue
                # rotate so a chatty stdout cannot starve stderr
                self._order.remove(fd)
                self._order.append(fd)
                if data:
                    chunk = Chunk(self._pipes[fd], data)
                    self._count(fd, len(data))
                    return chunk
                self._close_pipe(fd)
            if self._pipes and self._remaining is None:
                await self._wait_readable()
        return None

    def _allowed(self, fd: int, max_bytes: int) -> int:
        return max_bytes if self._remaining is None else min(max_bytes, self._remaining[fd])

    def _count(self, fd: int, size: int) -> None:
        """After the group is gone, close a pipe once what it held then has been read."""
        if self._remaining is not None:
            self._remaining[fd] -= size
            if self._remaining[fd] <= 0:
                self._close_pipe(fd)

    def _drain_only(self) -> None:
        """The group is gone: read what the pipes hold now, then stop."""
        if self._remaining is not None:
            return
        self._remaining = {fd: _unread_bytes(fd) for fd in self._pipes}
        for fd, size in list(self._remaining.items()):
            if size == 0:
                self._close_pipe(fd)
        self._group_gone.set()

    def top_up(self, chunk: Chunk, max_bytes: int) -> Chunk:
        """`chunk` and what its pipe holds now after it, up to `max_bytes` in all; never waits."""
        fd = next((fd for fd, pipe in self._pipes.items() if pipe is chunk.pipe), None)
        parts = [chunk.data]
        size = len(chunk.data)
        while fd is not None and fd in self._pipes and size < max_bytes:
            try:
                data = _read(fd, self._allowed(fd, max_bytes - size))
            except BlockingIOError:
                break
            if not data:  # end of file: the next `read` sees it again and closes the pipe
                break
            parts.append(data)
            size += len(data)
            self._count(fd, len(data))
        return chunk if len(parts) == 1 else Chunk(chunk.pipe, b"".join(parts))

    async def wait(self) -> int:
        """The exit status, shell-style (128+N for death by signal N), once the group is gone.

        Whatever the command left running in its process group is killed: a run leaves
        no orphans behind, and its pipes reach end-of-file.
        """
        code = await self._process.wait()
        await _kill_group(self.pid)
        self._drain_only()
        return 128 - code if code < 0 else code

    async def stop(self, policy: StopPolicy) -> None:
        """Stop the whole process group, escalating; returns once the command has exited."""
        self.stopping = True
        steps = (
            (signal.SIGINT, policy.sigint_grace),
            (signal.SIGTERM, policy.sigterm_grace),
            (signal.SIGKILL, None),
        )
        for sig, grace in steps:
            if self._process.returncode is not None:
                break
            log.debug("sending %s to process group %d", sig.name, self.pid)
            _signal_group(self.pid, sig)
            if grace is None:
                break
            try:
                async with asyncio.timeout(grace):
                    await self._process.wait()
            except TimeoutError:
                continue
        await self._process.wait()
        await _kill_group(self.pid)
        self._drain_only()

    async def _finish(self, policy: StopPolicy) -> None:
        try:
            if self._process.returncode is None:
                await self.stop(policy)
            else:
                await _kill_group(self.pid)
        except asyncio.CancelledError:
            _signal_group(self.pid, signal.SIGKILL)
            await asyncio.shield(self._process.wait())
            raise
        finally:
            for fd in list(self._pipes):
                self._close_pipe(fd)

    def _close_pipe(self, fd: int) -> None:
        if fd in self._pipes:
            del self._pipes[fd]
            self._order.remove(fd)
            os.close(fd)

    async def _wait_readable(self) -> None:
        loop = asyncio.get_running_loop()
        ready = loop.create_future()

        def wake() -> None:
            if not ready.done():
                ready.set_result(None)

        fds = list(self._pipes)
        for fd in fds:
            loop.add_reader(fd, wake)
        gone = asyncio.ensure_future(self._group_gone.wait())
        gone.add_done_callback(lambda _: wake())
        try:
            await ready
        finally:
            gone.cancel()
            for fd in fds:
                loop.remove_reader(fd)


def output_pipe() -> tuple[int, int]:
    """(read end, write end) of a pipe for a child's output; the read end is non-blocking."""
    read_end, write_end = os.pipe()
    os.set_blocking(read_end, False)
    with contextlib.suppress(OSError):  # the size is an optimisation; the default still works
        fcntl.fcntl(read_end, _F_SETPIPE_SZ, PIPE_CAPACITY)
    return read_end, write_end


def _read(fd: int, max_bytes: int) -> bytes:
    """A read; a pty's master answers EIO, not end of file, once its terminal is closed."""
    try:
        return os.read(fd, max_bytes)
    except OSError as error:
        if error.errno == errno.EIO:
            return b""
        raise


def _unread_bytes(fd: int) -> int:
    """How much a pipe holds now (FIONREAD)."""
    try:
        raw = fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0")
    except OSError:
        return 0
    return int.from_bytes(raw, sys.byteorder)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


async def _kill_group(pgid: int) -> None:
    """Kill what is left of the group and reap the members that became our children."""
    _signal_group(pgid, signal.SIGKILL)
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        try:
            # only members of this run's group: never steals another child's status
            result = os.waitid(os.P_PGID, pgid, os.WEXITED | os.WNOHANG)  # noqa: ASYNC222 (WNOHANG never blocks)
        except ChildProcessError:
            return  # no children of ours left in the group
        if result is None:
            await asyncio.sleep(0.001)  # a member got SIGKILL but has not exited yet


# A SIGKILLed server cannot stop its runs: each run's tox gets this signal from the kernel
# when its parent dies, and tox tears down on it as on ^C (its commands get SIGINT).
PARENT_DEATH_SIGNAL = signal.SIGINT
_PR_SET_PDEATHSIG = 1


def die_with_parent_hook() -> Callable[[], None] | None:
    """A `preexec_fn` that gives the child `PARENT_DEATH_SIGNAL` when we die (Linux)."""
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def hook() -> None:  # in the child, between fork and exec: no allocation-heavy work
        prctl(_PR_SET_PDEATHSIG, int(PARENT_DEATH_SIGNAL), 0, 0, 0)
        if os.getppid() != parent:  # we died before the prctl: nobody would tell it
            os._exit(128 + int(PARENT_DEATH_SIGNAL))

    return hook


def become_subreaper() -> bool:
    """Adopt orphaned descendants (Linux), so the runner can reap what a run leaves."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_child_subreaper = 36
        return bool(libc.prctl(pr_set_child_subreaper, 1, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False
