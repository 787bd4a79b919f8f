"""`toxbridge run` in tty mode: our terminal in raw mode, what is typed sent to the remote
terminal, its size kept equal to ours.

- tty mode when stdin and stdout are both terminals (`--tty` forces it, `--no-tty` turns it
  off). Otherwise stdin is not forwarded, and when stdin is a terminal one line says so.
- Raw mode: every key goes to the remote terminal as a byte, ^C too, so the program there
  (pytest, pdb, `input()`) handles it as it would locally (the server delivers a ^C to the
  command tox runs, not to tox: see `process.pty`). The mode is restored on every way out:
  normal exit, an exception, the double ^C, SIGTERM or SIGHUP (then we exit 128+N), and at
  interpreter exit. Only SIGKILL leaves it raw (`stty sane` or `reset` repairs it).
- Leaving at once: two ^C within `DOUBLE_INTERRUPT_S` cancel the remote run and exit 130.
- ^Z is ours, as in a local terminal: the terminal is restored, the remote session stopped,
  and we stop; on `fg`, raw mode again, the remote continued, its size updated.
- SIGWINCH: the remote terminal is resized (the program there gets its SIGWINCH).
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import contextlib
import os
import signal
import sys
import termios
import time
import tty
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from toxbridge.net.remote import RemoteRun
from toxbridge.wire import protocol

DOUBLE_INTERRUPT_S = 1.0
INTERRUPT = 0x03  # ^C
SUSPEND = 0x1A  # ^Z
END_OF_INPUT = b"\x04"  # ^D: a terminal's end of file (at the start of a line)
READ_BYTES = 4096
FALLBACK_SIZE = (24, 80)
LEAVING_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


@dataclass(frozen=True, slots=True)
class TtyChoice:
    """Whether a run gets a terminal, and the one line to say when stdin is not forwarded."""

    tty: bool
    notice: str | None = None


def choose(args: argparse.Namespace, stdin: int = 0, stdout: int = 1) -> TtyChoice:
    if args.tty:
        return TtyChoice(True)
    if not os.isatty(stdin):
        return TtyChoice(False)  # input from a pipe or a file: today's pipes, silently
    if args.no_tty:
        why = "--no-tty"
    elif not os.isatty(stdout):
        why = "stdout is not a terminal"
    else:
        return TtyChoice(True)
    return TtyChoice(False, f"stdin is not forwarded ({why}; --tty forwards it)")


def window_size(fds: tuple[int, ...] = (1, 0)) -> tuple[int, int]:
    """(rows, columns) of the first of `fds` that is a terminal."""
    for fd in fds:
        with contextlib.suppress(OSError):
            size = os.get_terminal_size(fd)
            if size.lines > 0 and size.columns > 0:
                return size.lines, size.columns
    return FALLBACK_SIZE


def tty_request() -> protocol.Tty:
    rows, cols = window_size()
    term = os.environ.get("TERM") or None
    return protocol.Tty(
        rows, cols, term if term and term.isprintable() and len(term) <= 64 else None
    )


class RawMode:
    """A terminal in raw mode, and back to its saved mode (idempotent)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.saved: list[Any] | None = None
        self.raw = False

    def enter(self) -> None:
        if not os.isatty(self.fd):
            return
        if self.saved is None:
            self.saved = termios.tcgetattr(self.fd)
        tty.setraw(self.fd, termios.TCSADRAIN)
        self.raw = True

    def restore(self) -> None:
        if self.saved is not None and self.raw:
            with contextlib.suppress(termios.error, OSError):
                termios.tcsetattr(self.fd, termios.TCSADRAIN, self.saved)
            self.raw = False


class Terminal:
    """The local side of a tty run: `async with Terminal(remote, ...)` around the relay.

    `suspend()` is called for ^Z, `leave(code)` for the double ^C and for SIGTERM/SIGHUP."""

    def __init__(
        self,
        remote: RemoteRun,
        *,
        suspend: Callable[[], None],
        leave: Callable[[int], None],
        say: Callable[[str], None],
        stdin: int = 0,
    ) -> None:
        self.remote = remote
        self.suspend = suspend
        self.leave = leave
        self.say = say
        self.stdin = stdin
        self.mode = RawMode(stdin)
        self._last_interrupt: float | None = None
        self._reading = False
        self.forwarding = True
        self._loop = asyncio.get_running_loop()

    @property
    def raw(self) -> bool:
        return self.mode.raw

    async def __aenter__(self) -> Terminal:
        atexit.register(self.mode.restore)
        self.mode.enter()
        self._loop.add_signal_handler(signal.SIGWINCH, self._on_resize)
        for sig in LEAVING_SIGNALS:
            self._loop.add_signal_handler(sig, self.leave, 128 + sig)
        self._start_reading()
        self._on_resize()  # a server without terminals answers `unknown-kind`: see give_up
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._stop_reading()
        self._loop.remove_signal_handler(signal.SIGWINCH)
        for sig in LEAVING_SIGNALS:
            self._loop.remove_signal_handler(sig)
        self.mode.restore()
        atexit.unregister(self.mode.restore)

    # -- ^Z ---------------------------------------------------------------------------------

    def stopping(self) -> None:
        """Before we stop: our terminal as it was, the remote session stopped too."""
        self._stop_reading()
        self.mode.restore()
        self.remote.signal(protocol.TerminalSignal.SIGTSTP)

    def continued(self) -> None:
        """After `fg`: raw mode again, the remote continued, at our (maybe new) size."""
        if self.forwarding:
            self.mode.enter()
        self.remote.signal(protocol.TerminalSignal.SIGCONT)
        self._on_resize()
        self._start_reading()

    # -- input ------------------------------------------------------------------------------

    def give_up(self, why: str) -> None:
        """The run has no terminal after all: our mode restored, stdin no longer sent."""
        if self.forwarding:
            self.forwarding = False
            self._stop_reading()
            self.mode.restore()
            self.say(f"stdin is not forwarded ({why})")

    def _start_reading(self) -> None:
        if self._reading or not self.forwarding:
            return
        try:
            self._loop.add_reader(self.stdin, self._on_input)
        except PermissionError:  # a regular file or /dev/null (with --tty): nothing to wait on
            self.give_up("stdin is a file, not a terminal or a pipe")
            self.remote.send_input(END_OF_INPUT)
            return
        self._reading = True

    def _stop_reading(self) -> None:
        if self._reading:
            self._loop.remove_reader(self.stdin)
            self._reading = False

    def _on_input(self) -> None:
        try:
            data = os.read(self.stdin, READ_BYTES)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:  # end of a piped stdin (with --tty); a terminal sends ^D as a byte
            self._stop_reading()
            self.remote.send_input(END_OF_INPUT)  # the remote program reads its end, too
            return
        if self.raw:
            data = self._keys(data)
        if data:
            self.remote.send_input(data)

    def _keys(self, data: bytes) -> bytes:
        """What to send of `data`; ^Z and the second of two quick ^C are ours."""
        if SUSPEND in data:
            before = data[: data.index(SUSPEND)]
            if before:
                self.remote.send_input(self._keys(before))
            self.suspend()  # what was typed after ^Z waits for `fg`: dropped, as locally
            return b""
        if INTERRUPT in data:
            now = time.monotonic()
            last, self._last_interrupt = self._last_interrupt, now
            if data.count(INTERRUPT) > 1 or (last is not None and now - last <= DOUBLE_INTERRUPT_S):
                self.leave(130)
                return b""
        return data

    def _on_resize(self) -> None:
        rows, cols = window_size((self.stdin, 1))
        self.remote.resize(rows, cols)


def say(line: str, *, raw: bool) -> bytes:
    """One line of ours on stderr; a terminal in raw mode needs its carriage return."""
    return f"toxbridge: {line}{chr(13) if raw else ''}\n".encode()


def notice(text: str) -> None:
    print(f"toxbridge: {text}", file=sys.stderr, flush=True)
