"""The terminal of a tty run: its pty, what the client types into it, its size, signals.

Made when the run is accepted, so what arrives while it is queued is kept (the latest size,
typed-ahead input up to the bound); the pty is opened when tox starts (`open`) and closed
when the run is over (`close`).

Input is bounded: at most `MAX_PENDING_BYTES` not yet taken by the terminal; a `stdin`
beyond that is refused with `busy` (nothing of it is written), so a client cannot grow the
server's memory. A ^C byte (the terminal's VINTR, while it generates signals) is not
written but delivered as `process.pty.interrupt` does, with the rest of what a terminal
does then (the typed line discarded, `^C` echoed); everything else goes to the terminal as
typed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import termios
from typing import Protocol

from toxbridge.errors import ProtocolError
from toxbridge.process import pty as ptys
from toxbridge.wire import protocol

log = logging.getLogger(__name__)

MAX_PENDING_BYTES = 256 * 1024
DEFAULT_TERM = "xterm-256color"


class RunTerminal:
    def __init__(self, run_id: str, tty: protocol.Tty) -> None:
        self.run_id = run_id
        self.rows, self.cols = tty.rows, tty.cols
        self.term = tty.term or DEFAULT_TERM
        self.pty: ptys.Pty | None = None
        self.leader: int | None = None  # tox, once started: its session's leader
        self._pending = bytearray()
        self._writing = False
        self._closed = False

    def adjust_env(self, env: dict[str, str]) -> None:
        """tox's environment names the terminal, and leaves its size to the terminal."""
        env["TERM"] = self.term
        for name in ("COLUMNS", "LINES"):
            env.pop(name, None)

    def open(self) -> ptys.Pty:
        self.pty = ptys.open_pty(self.rows, self.cols)
        return self.pty

    def started(self, pid: int) -> None:
        self.leader = pid
        self._flush()

    def close(self) -> None:
        self._closed = True
        if self.pty is not None:
            self._stop_writing()
            self.pty.close()
            self.pty = None
        self._pending.clear()

    # -- requests --------------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        if self._closed:
            return  # the run is ending: nobody reads the terminal any more
        if len(self._pending) + len(data) > MAX_PENDING_BYTES:
            raise ProtocolError(
                protocol.ErrorCode.BUSY.value,
                f"the terminal has {len(self._pending)} bytes of input it did not take yet "
                f"(at most {MAX_PENDING_BYTES}); these {len(data)} were dropped",
                self.run_id,
            )
        self._pending += data
        self._flush()

    def resize(self, rows: int, cols: int) -> None:
        self.rows, self.cols = rows, cols
        if self.pty is not None:
            ptys.set_size(self.pty.master, rows, cols)

    def signal(self, name: protocol.TerminalSignal) -> None:
        if self.pty is None or self.leader is None:
            return  # not started yet, or over: there is nothing to signal
        master, leader = self.pty.master, self.leader
        match name:
            case protocol.TerminalSignal.SIGINT:
                ptys.interrupt(master, leader)
            case protocol.TerminalSignal.SIGQUIT:
                ptys.quit_foreground(master, leader)
            case protocol.TerminalSignal.SIGTSTP:
                ptys.stop_session(leader)
            case protocol.TerminalSignal.SIGCONT:
                ptys.continue_session(leader)
        log.info("run %s: %s delivered to its terminal's processes", self.run_id, name.value)

    def continue_stopped(self) -> None:
        """Before a cancel: a stopped tree could not act on SIGINT or SIGTERM."""
        if self.leader is not None:
            ptys.continue_session(self.leader)

    # -- writing ---------------------------------------------------------------------------

    def _flush(self) -> None:
        """Write what the terminal takes now; the rest when it is writable again."""
        if self.pty is None or self.leader is None:
            return
        master = self.pty.master
        while self._pending:
            cut = self._interrupt_at()
            if cut == 0:
                char = bytes(self._pending[:1])
                del self._pending[:1]
                ptys.interrupt(master, self.leader)
                ptys.as_the_terminal_would(self.pty, char)
                continue
            try:
                written = os.write(master, self._pending[: len(self._pending) if cut < 0 else cut])
            except BlockingIOError:
                break
            except OSError as error:  # the terminal is gone: the run is ending
                log.info("run %s: input not written: %s", self.run_id, error)
                self._pending.clear()
                break
            del self._pending[:written]
        if self._pending:
            self._start_writing()
        else:
            self._stop_writing()

    def _interrupt_at(self) -> int:
        """Where the first ^C is in the pending input, while the terminal makes signals."""
        assert self.pty is not None  # noqa: S101 (only while open)
        try:
            attrs = termios.tcgetattr(self.pty.master)
        except termios.error:
            return -1
        if not attrs[3] & termios.ISIG:
            return -1
        vintr = attrs[6][termios.VINTR]
        char = vintr if isinstance(vintr, bytes) else bytes([vintr])
        return -1 if char == b"\0" else self._pending.find(char)  # NUL: disabled

    def _start_writing(self) -> None:
        if not self._writing and self.pty is not None:
            asyncio.get_running_loop().add_writer(self.pty.master, self._flush)
            self._writing = True

    def _stop_writing(self) -> None:
        if self._writing and self.pty is not None:
            with contextlib.suppress(RuntimeError):  # the loop is closing
                asyncio.get_running_loop().remove_writer(self.pty.master)
            self._writing = False


class _HasTerminal(Protocol):
    id: str
    terminal: RunTerminal | None


def terminal_request(
    run: _HasTerminal, request: protocol.Stdin | protocol.Resize | protocol.Signal
) -> None:
    """A `stdin`, `resize` or `signal` for `run`; `bad-args` when it has no terminal."""
    terminal = run.terminal
    if terminal is None:
        raise ProtocolError(
            protocol.ErrorCode.BAD_ARGS.value,
            f"run {run.id!r} has no terminal (it was started without `tty`): "
            f"{type(request).__name__.lower()} is for tty runs",
            run.id,
        )
    match request:
        case protocol.Stdin(data=data):
            terminal.write(data)
        case protocol.Resize(rows=rows, cols=cols):
            terminal.resize(rows, cols)
        case protocol.Signal(name=name):
            terminal.signal(name)
