"""When `toxbridge run` takes a terminal, and what it says when it does not; raw mode and
its restoration on a real pty."""

from __future__ import annotations

import argparse
import os
import termios
from collections.abc import Iterator

import pytest

from toxbridge.cli.terminal import RawMode, TtyChoice, choose


@pytest.fixture
def fds() -> Iterator[dict[str, int]]:
    master, slave = os.openpty()
    read_end, write_end = os.pipe()
    yield {"tty": slave, "pipe": write_end, "pipe_in": read_end}
    for fd in (master, slave, read_end, write_end):
        os.close(fd)


def args(*, tty: bool = False, no_tty: bool = False) -> argparse.Namespace:
    return argparse.Namespace(tty=tty, no_tty=no_tty)


NOT_A_TTY = "stdin is not forwarded (stdout is not a terminal; --tty forwards it)"


@pytest.mark.parametrize(
    ("options", "stdin", "stdout", "expected"),
    [
        ({}, "tty", "tty", TtyChoice(True)),
        ({}, "tty", "pipe", TtyChoice(False, NOT_A_TTY)),
        ({}, "pipe_in", "tty", TtyChoice(False)),  # input from a file or pipe: say nothing
        ({}, "pipe_in", "pipe", TtyChoice(False)),
        (
            {"no_tty": True},
            "tty",
            "tty",
            TtyChoice(False, "stdin is not forwarded (--no-tty; --tty forwards it)"),
        ),
        ({"no_tty": True}, "pipe_in", "pipe", TtyChoice(False)),
        ({"tty": True}, "pipe_in", "pipe", TtyChoice(True)),
    ],
)
def test_choice(
    fds: dict[str, int], options: dict[str, bool], stdin: str, stdout: str, expected: TtyChoice
) -> None:
    assert choose(args(**options), fds[stdin], fds[stdout]) == expected


def test_raw_mode_is_restored_exactly_and_restoring_twice_is_harmless(
    fds: dict[str, int],
) -> None:
    before = termios.tcgetattr(fds["tty"])
    mode = RawMode(fds["tty"])
    mode.enter()
    raw = termios.tcgetattr(fds["tty"])
    assert not raw[3] & (termios.ICANON | termios.ECHO | termios.ISIG)
    mode.restore()
    mode.restore()
    assert termios.tcgetattr(fds["tty"]) == before


def test_raw_mode_on_a_pipe_does_nothing(fds: dict[str, int]) -> None:
    mode = RawMode(fds["pipe_in"])
    mode.enter()
    assert not mode.raw
    mode.restore()
