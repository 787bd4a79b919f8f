"""A pseudo-terminal for tests: a command on a real pty, expected text waited for with a
deadline (never a sleep), keys sent, the window resized, the terminal's mode read.

The command leads a new session with the pty as its controlling terminal, as in a terminal
emulator, so a shell on it does job control (^Z, `fg`).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import select
import signal
import struct
import subprocess
import termios
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

DEFAULT_TIMEOUT_S = 60.0


class Expired(AssertionError):
    pass


class Terminal:
    """`with Terminal.spawn([...]) as term: term.expect("text"); term.send(b"keys")`."""

    def __init__(self, process: subprocess.Popen[bytes], master: int) -> None:
        self.process = process
        self.master = master
        self.output = bytearray()  # everything read so far
        self.initial = termios.tcgetattr(master)  # the mode before the command changed it
        self.position = 0  # where the next `expect` starts looking

    @classmethod
    def spawn(
        cls,
        argv: Sequence[str],
        *,
        rows: int = 24,
        cols: int = 80,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
    ) -> Terminal:
        master, slave = os.openpty()
        set_size(master, rows, cols)

        def controlling_terminal() -> None:
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        try:
            process = subprocess.Popen(
                argv,
                stdin=slave,
                stdout=slave,
                stderr=slave,
                start_new_session=True,
                preexec_fn=controlling_terminal,
                env=dict(os.environ if env is None else env),
                cwd=cwd,
            )
        finally:
            os.close(slave)
        return cls(process, master)

    def __enter__(self) -> Terminal:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        os.close(self.master)

    # -- output ----------------------------------------------------------------------------

    def _read_some(self, deadline: float) -> bool:
        """Read what is there, waiting until `deadline`; False at the end of output."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return True
        ready, _, _ = select.select([self.master], [], [], remaining)
        if not ready:
            return True
        try:
            data = os.read(self.master, 65536)
        except OSError:  # EIO: every process on the terminal closed it
            return False
        if not data:
            return False
        self.output += data
        return True

    def expect(self, pattern: bytes | str, timeout: float = DEFAULT_TIMEOUT_S) -> re.Match[bytes]:
        """Wait for `pattern` (a regex; a str is taken literally) after the last match."""
        regex = re.compile(re.escape(pattern.encode()) if isinstance(pattern, str) else pattern)
        deadline = time.monotonic() + timeout
        while True:
            match = regex.search(self.output, self.position)
            if match is not None:
                self.position = match.end()
                return match
            if time.monotonic() >= deadline or not self._read_some(deadline):
                raise Expired(
                    f"{pattern!r} not seen within {timeout:g}s; after position "
                    f"{self.position}: {bytes(self.output[self.position :])[-3000:]!r}"
                )

    def read_to_end(self, timeout: float = DEFAULT_TIMEOUT_S) -> bytes:
        """Everything until every process on the terminal has closed it."""
        deadline = time.monotonic() + timeout
        while self._read_some(deadline):
            if time.monotonic() >= deadline:
                raise Expired(f"output did not end within {timeout:g}s: {self.tail()!r}")
        return bytes(self.output)

    def tail(self, size: int = 2000) -> bytes:
        return bytes(self.output[-size:])

    # -- input and control -----------------------------------------------------------------

    def send(self, data: bytes | str) -> None:
        os.write(self.master, data.encode() if isinstance(data, str) else data)

    def resize(self, rows: int, cols: int) -> None:
        set_size(self.master, rows, cols)  # the kernel sends SIGWINCH to the foreground

    def attributes(self) -> list[Any]:
        """The terminal's termios mode (the slave side's, read through the master)."""
        return termios.tcgetattr(self.master)

    def wait(self, timeout: float = DEFAULT_TIMEOUT_S) -> int:
        """The command's exit status, reading its output meanwhile (so it never blocks)."""
        deadline = time.monotonic() + timeout
        while self.process.poll() is None:
            if time.monotonic() >= deadline:
                raise Expired(f"still running after {timeout:g}s: {self.tail()!r}")
            if not self._read_some(min(deadline, time.monotonic() + 0.05)):
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        # what it wrote just before exiting may still wait in the terminal: take all of it
        while select.select([self.master], [], [], 0)[0]:
            try:
                data = os.read(self.master, 65536)
            except OSError:  # EIO: nothing holds the terminal open any more
                break
            if not data:
                break
            self.output += data
        return self.process.returncode


def set_size(fd: int, rows: int, cols: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def wait_gone(pid: int, timeout: float = DEFAULT_TIMEOUT_S) -> None:
    """Until `pid` has exited, on the kernel's own event (a pidfd)."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        ready, _, _ = select.select([fd], [], [], timeout)
        if not ready:
            raise Expired(f"process {pid} still there after {timeout:g}s")
    finally:
        os.close(fd)


def state(pid: int) -> str:
    """The process's state letter (R, S, T for stopped, Z...), "gone" once it is."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return "gone"
    return text.rpartition(")")[2].split()[0]


def wait_state(pid: int, wanted: str, timeout: float = DEFAULT_TIMEOUT_S) -> None:
    """Until the process is in state `wanted`: a signalled process takes that state only
    once it is scheduled, which a loaded machine may delay. The kernel has no event for
    it that a non-parent could wait on, so /proc is read again until the deadline."""
    deadline = time.monotonic() + timeout
    while (now := state(pid)) != wanted:
        if time.monotonic() >= deadline:
            raise Expired(f"process {pid} is {now}, not {wanted}, after {timeout:g}s")
        select.select([], [], [], 0.01)
