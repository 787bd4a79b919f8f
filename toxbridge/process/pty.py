"""tox on a pseudo-terminal: open and size it, start a command on it, signal what runs on it.

The command becomes a session leader whose controlling terminal is the pty's slave side
(stdin, stdout and stderr all three), as in a local terminal; the caller keeps the master,
reads all output from it (one stream) and writes what is typed to it. Reading stops when
the caller stops asking, so the credit flow control works as on pipes: the slave's buffer
fills and the command blocks in `write`.

Signals follow what a terminal does, with one deliberate difference for ^C (`interrupt`):
tox and the command it runs (pytest) share the terminal's foreground process group, so a
local ^C reaches both, and tox then tears the whole run down, even when the ^C was meant
for pdb. Here ^C goes to the command tox runs and not to tox, so pdb, `input()` and
pytest handle it; tox gets it only while it runs no command.

A session under the server is an orphaned process group, in which the kernel discards the
default action of SIGTSTP (and of SIGTTIN, SIGTTOU): `stop` uses SIGSTOP.

Linux, the standard library only.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import signal
import struct
import termios
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from toxbridge.process.child import ChildProcess, StopPolicy, die_with_parent_hook

PROC = Path("/proc")


@dataclass(slots=True)
class Pty:
    """A pseudo-terminal: the server keeps `master`; `slave` goes to the command."""

    master: int
    slave: int | None
    name: str  # the slave's path, to open it again (`as_the_terminal_would`)

    def close_slave(self) -> None:
        """Once the command has it: the master reads end of file when the command's side closes."""
        if self.slave is not None:
            os.close(self.slave)
            self.slave = None

    def close(self) -> None:
        self.close_slave()
        os.close(self.master)


def open_pty(rows: int, cols: int) -> Pty:
    """A new pty of `rows` x `cols`, its master non-blocking."""
    master, slave = os.openpty()
    try:
        set_size(master, rows, cols)
        os.set_blocking(master, False)
        name = os.ttyname(slave)
    except BaseException:
        os.close(master)
        os.close(slave)
        raise
    return Pty(master, slave, name)


def set_size(fd: int, rows: int, cols: int) -> None:
    """Size the terminal; the kernel sends SIGWINCH to its foreground process group."""
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def get_size(fd: int) -> tuple[int, int]:
    rows, cols, _, _ = struct.unpack("HHHH", fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8))
    return rows, cols


def controlling_terminal_hook() -> Callable[[], None]:
    """A `preexec_fn`, run after `setsid`: fd 0 becomes the controlling terminal, and the
    child dies with us as every run's tox does (`die_with_parent_hook`)."""
    parent_death = die_with_parent_hook()

    def hook() -> None:
        if parent_death is not None:
            parent_death()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    return hook


@contextlib.asynccontextmanager
async def start_on_pty(
    argv: Sequence[str],
    *,
    cwd: str,
    env: Mapping[str, str],
    pty: Pty,
    policy: StopPolicy | None = None,
) -> AsyncIterator[ChildProcess]:
    """`ChildProcess.start`'s guarantees, with the pty's slave as the command's terminal."""
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=pty.slave,
            stdout=pty.slave,
            stderr=pty.slave,
            cwd=cwd,
            env=dict(env),
            start_new_session=True,
            preexec_fn=controlling_terminal_hook(),
        )
    finally:
        pty.close_slave()
    # a copy of the master to read from: the child closes it at end of file, while the
    # caller's stays open for input and resizing until the run is over
    async with ChildProcess.adopt(process, os.dup(pty.master), None, policy) as child:
        yield child


def start_child(
    argv: Sequence[str],
    *,
    cwd: str,
    env: Mapping[str, str],
    policy: StopPolicy | None,
    pty: Pty | None,
) -> contextlib.AbstractAsyncContextManager[ChildProcess]:
    """The command on pipes (`pty` None) or on the pty."""
    if pty is None:
        return ChildProcess.start(argv, cwd=cwd, env=env, policy=policy)
    return start_on_pty(argv, cwd=cwd, env=env, pty=pty, policy=policy)


# -- signals -----------------------------------------------------------------------------


def _stat(pid: int) -> tuple[int, int] | None:
    """(process group, session) of `pid`, or None once it is gone."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = text.rpartition(")")[2].split()
    return int(fields[2]), int(fields[3])


def _processes() -> list[tuple[int, int, int]]:
    """(pid, process group, session) of every process."""
    found = []
    for entry in PROC.iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) is not None:
            found.append((int(entry.name), *stat))
    return found


def session_groups(leader: int) -> set[int]:
    """The process groups of the session `leader` leads (its own included)."""
    return {leader} | {group for _, group, session in _processes() if session == leader}


def foreground_group(master: int) -> int | None:
    try:
        return os.tcgetpgrp(master)
    except OSError:
        return None


def _kill(pid: int, sig: signal.Signals, *, group: bool = False) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        (os.killpg if group else os.kill)(pid, sig)


def interrupt(master: int, leader: int) -> None:
    """^C: SIGINT to the foreground process group, but not to tox (`leader`) while tox
    runs a command in that group: the command (pytest, pdb) handles it, the run goes on."""
    group = foreground_group(master) or leader
    if group != leader:
        _kill(group, signal.SIGINT, group=True)
        return
    others = [pid for pid, pgrp, _ in _processes() if pgrp == group and pid != leader]
    for pid in others or [leader]:
        _kill(pid, signal.SIGINT)


def as_the_terminal_would(pty: Pty, char: bytes) -> None:
    """What a terminal does besides the signal when `char` (^C) is typed: discard the line
    being typed (unless NOFLSH) and echo `^C` (with ECHO and ECHOCTL)."""
    try:
        flags = termios.tcgetattr(pty.master)[3]
        fd = os.open(pty.name, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    except (OSError, termios.error):
        return  # the terminal is going away
    try:
        if not flags & termios.NOFLSH:
            termios.tcflush(fd, termios.TCIFLUSH)
        if flags & termios.ECHO and flags & termios.ECHOCTL:
            with contextlib.suppress(BlockingIOError):
                os.write(fd, b"^" + bytes([char[0] ^ 0x40]))
    except (OSError, termios.error):
        pass
    finally:
        os.close(fd)


def quit_foreground(master: int, leader: int) -> None:
    """^\\: SIGQUIT to the foreground process group, as the terminal would."""
    _kill(foreground_group(master) or leader, signal.SIGQUIT, group=True)


def stop_session(leader: int) -> None:
    """^Z: stop every process group of tox's session (SIGSTOP: see the module's doc)."""
    for group in session_groups(leader):
        _kill(group, signal.SIGSTOP, group=True)


def continue_session(leader: int) -> None:
    for group in session_groups(leader):
        _kill(group, signal.SIGCONT, group=True)
