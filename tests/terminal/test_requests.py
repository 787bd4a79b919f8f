"""A tty run through the client library against a real server: the output of a pty under
credit, byte for byte; input bounded while the terminal does not take it; terminal
requests for a run that has no terminal refused."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys

import pytest

from tests.conftest import HELPERS, RunningServer
from toxbridge.config import parse_endpoint
from toxbridge.errors import RemoteError
from toxbridge.net.client import Client
from toxbridge.server.terminal import MAX_PENDING_BYTES
from toxbridge.wire import protocol

TTY = protocol.Tty(24, 80, "xterm")


def client(server: RunningServer, credit_window: int = 64) -> Client:
    return Client(parse_endpoint(server.endpoint), credit_window=credit_window)


SIZE = 3_000_000


@pytest.fixture(scope="module")
def big_on_a_terminal() -> bytes:
    """What big.py writes, as tox on a terminal passes it on: tox runs it on a pty of its
    own and copies that to ours, and each terminal's output processing (ONLCR) adds a \\r,
    as in a local terminal."""
    return subprocess.run(
        [sys.executable, str(HELPERS / "big.py"), str(SIZE)], capture_output=True, check=True
    ).stdout.replace(b"\n", b"\r\r\n")


async def test_bulk_output_of_a_pty_arrives_whole_under_a_small_credit(
    tty_server: RunningServer, big_on_a_terminal: bytes
) -> None:
    output = bytearray()
    async with (
        client(tty_server, credit_window=2) as tb,
        tb.run(["-e", "big", "--", str(SIZE)], tty=TTY) as run,
    ):
        async for event in run:
            match event:
                case protocol.Output(stream=stream, data=data):
                    assert stream is protocol.Stream.STDOUT  # a terminal has one stream
                    output += data
                case protocol.Exit(code=code):
                    assert code == 0
    assert big_on_a_terminal in output


async def test_input_beyond_the_bound_is_refused_busy_and_the_run_goes_on(
    warm_server: RunningServer,
) -> None:
    refused: list[protocol.Error] = []
    both = asyncio.Event()

    def note(error: protocol.Error) -> None:
        refused.append(error)
        if len(refused) == 2:
            both.set()

    async with client(warm_server) as tb:
        first = tb.run(["-e", "wait"], tty=TTY)
        async with first:
            async for event in first:
                if isinstance(event, protocol.Output) and b"waiting" in event.data:
                    break
            second = tb.run(["-e", "wait"], tty=TTY)  # queued behind the first
            async with second:
                second.on_input_refused = note
                async for event in second:
                    assert isinstance(event, protocol.Queued)
                    break
                chunk = b"x" * protocol.MAX_STDIN_BYTES
                for _ in range(MAX_PENDING_BYTES // len(chunk) + 1):
                    assert second.send_input(chunk)
                second.send_input(b"y" * (protocol.MAX_STDIN_BYTES + 1))
                async with asyncio.timeout(30):
                    await both.wait()
                assert [error.code for error in refused] == [
                    protocol.ErrorCode.BUSY,
                    protocol.ErrorCode.TOO_LARGE,
                ]
                assert first.send_input(b"go\r")
                async for event in first:
                    if isinstance(event, protocol.Exit):
                        assert event.code == 0
                await second.cancel()


async def test_terminal_requests_for_a_run_without_tty_are_bad_args(
    warm_server: RunningServer,
) -> None:
    async with client(warm_server) as tb, tb.run(["-e", "wait"]) as run:
        async for event in run:
            assert isinstance(event, protocol.Started)
            break
        assert run.resize(30, 100)
        with pytest.raises(RemoteError, match="has no terminal"):
            await anext(aiter(run))


async def test_a_sigint_request_interrupts_the_command_tox_runs_not_tox(
    warm_server: RunningServer,
) -> None:
    output = bytearray()
    interrupted = False
    async with client(warm_server) as tb, tb.run(["-e", "wait"], tty=TTY) as run:
        async for event in run:
            match event:
                case protocol.Output(data=data):
                    output += data
                    if b"waiting" in output and not interrupted:
                        interrupted = run.signal(protocol.TerminalSignal.SIGINT)
                case protocol.Exit(code=code):
                    assert code != 0  # the command failed, and tox said so as for any failure
    assert b"KeyboardInterrupt" in output  # the command's own traceback
    assert b"wait: FAIL" in output  # tox's report: tox was not interrupted
    assert b"teardown started" not in output


async def test_a_ctrl_c_byte_reaches_a_program_that_turned_terminal_signals_off(
    warm_server: RunningServer,
) -> None:
    """^C is a signal only while the remote terminal makes signals (ISIG); a program in raw
    mode (an editor, a pager) reads it as the byte it is."""
    output = bytearray()
    sent = False
    async with client(warm_server) as tb, tb.run(["-e", "raw"], tty=TTY) as run:
        async for event in run:
            match event:
                case protocol.Output(data=data):
                    output += data
                    if b"raw ready" in output and not sent:
                        sent = run.send_input(b"\x03")
                case protocol.Exit(code=code):
                    assert code == 0
    assert b"key b'\\x03'" in output


async def test_a_ctrl_c_discards_the_line_being_typed_and_echoes_as_a_terminal_does(
    warm_server: RunningServer,
) -> None:
    """As a person types: a key at a time, ^C once the line is echoed (bytes sent in one
    message with the ^C are discarded with the line, but may miss their echo)."""
    output = bytearray()
    keys = iter([(b"ready", b"abc"), (b"abc", b"\x03"), (b"interrupted", b"def\r")])
    wait_for, key = next(keys)
    async with client(warm_server) as tb, tb.run(["-e", "keep"], tty=TTY) as run:
        async for event in run:
            if isinstance(event, protocol.Output):
                output += event.data
                if wait_for in output:
                    assert run.send_input(key)
                    wait_for, key = next(keys, (b"\0never", b""))
    # the echo of the line, then of the ^C; the program's own output goes through tox and
    # may come between them (as it may locally: the terminal echoes after the signal)
    assert re.search(rb"abc.*\^C", output, re.DOTALL)
    assert b"line 'def'" in output  # "abc" went with the ^C, as at a local terminal
