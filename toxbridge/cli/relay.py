"""`toxbridge run`'s relay: the remote run's output becomes ours, its exit code our own.

- Output goes through `OutputWriter`, so a slow reader slows the server down (no credit
  while our stdout is full) and never stops the heartbeats; everything arrives, however
  long the reader takes.
- A reader that leaves (`| head -1`) cancels the remote run at once, and we exit 141
  (128 + SIGPIPE), what a shell shows for a writer whose reader left, without a word.
- First SIGINT: ask the server to cancel, and keep relaying until the run's real exit.
  Second SIGINT: give up at once with 130.
- SIGTSTP (^Z): tell the server the run is paused, stop; on SIGCONT say we are back.
- tty mode (`cli.terminal`): the remote tox has a terminal, ours is raw and forwarded;
  ^C is a key for the remote program, two ^C within a second leave at once.
- A run someone else ended (another client's cancel, `quit --now`, a server limit)
  ends with one line on stderr that says who or what.
- A connection lost mid-run: what arrived before is written first, then the error.
- With `results` (`--report-log`, the summary), the run asks for test events and
  `results` gets them; tox's output is the same either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import signal
from collections.abc import Sequence

from toxbridge.cli.results import RunResults
from toxbridge.cli.terminal import Terminal, say, tty_request
from toxbridge.cli.writer import OutputWriter
from toxbridge.errors import ToxbridgeError
from toxbridge.net.client import Client
from toxbridge.net.remote import RemoteRun
from toxbridge.wire import protocol

READER_LEFT = 128 + signal.SIGPIPE
INTERRUPTED = 130
CANCEL_ACK_S = 2.0  # how long we wait for the server to confirm a cancel before we leave
LEAVE_DRAIN_S = 0.5  # leaving at once: how long what is queued for our stdout may still take


async def relay(
    client: Client,
    tox_args: Sequence[str],
    color: bool,
    env: dict[str, str],
    results: RunResults | None = None,
    *,
    tty: bool = False,
) -> int:
    """Run tox remotely, copy its output to ours, return its exit code."""
    asks = results is not None
    report_log = results is not None and results.report_log
    request_tty = tty_request() if tty else None
    remote_run = client.run(
        tox_args, env=env, color=color, events=asks, report_log=report_log, tty=request_tty
    )
    async with OutputWriter() as out, remote_run as remote:
        relaying = _Relay(client, remote, out, results)
        if not tty:
            return await relaying.run()
        terminal = Terminal(
            remote, suspend=relaying.on_sigtstp, leave=relaying.leave, say=relaying.say
        )

        def refused(error: protocol.Error) -> None:
            if error.code is protocol.ErrorCode.UNKNOWN_KIND:
                terminal.give_up("this server is too old to give tox a terminal")
            else:
                relaying.say(f"input dropped: {error.message}")

        remote.on_input_refused = refused
        async with terminal:
            relaying.terminal = terminal
            return await relaying.run()


class _Relay:
    def __init__(
        self, client: Client, remote: RemoteRun, out: OutputWriter, results: RunResults | None
    ) -> None:
        self.client = client
        self.remote = remote
        self.out = out
        self.results = results
        self.interrupts = 0
        self.stopping: asyncio.Task[None] | None = None
        self.main = asyncio.current_task()
        self.terminal: Terminal | None = None
        self.leaving: int | None = None  # the exit code we leave with, at once

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGINT, self._on_sigint)
        loop.add_signal_handler(signal.SIGTSTP, self.on_sigtstp)
        consume = asyncio.create_task(self._consume())
        left = asyncio.create_task(self.out.wait_left())
        try:
            await asyncio.wait({consume, left}, return_when=asyncio.FIRST_COMPLETED)
            if left.done() and not consume.done():
                return await self._reader_left(left.result())
            return consume.result()
        except asyncio.CancelledError:  # the second ^C
            # our last line (and the output before it) is still queued for the writer
            # thread, which dies with the process: give it a moment, not a reader's whim
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(LEAVE_DRAIN_S):
                    await self.out.drain()
            return INTERRUPTED if self.leaving is None else self.leaving
        finally:
            loop.remove_signal_handler(signal.SIGINT)
            loop.remove_signal_handler(signal.SIGTSTP)
            for task in (consume, left, self.stopping):
                if task is not None and not task.done():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task

    async def _consume(self) -> int:
        try:
            async for event in self.remote:
                match event:
                    case protocol.Output(stream=protocol.Stream.STDOUT, data=data):
                        await self.out.write(1, data)
                    case protocol.Output(data=data):
                        await self.out.write(2, data)
                    case protocol.Test() if self.results is not None:
                        self.results.add(event)
                    case protocol.Started() if self.results is not None:
                        self.results.started(event)
                    case protocol.Queued(position=position):
                        self.say(f"queued, {position} run(s) ahead")
                    case protocol.Exit(code=code, reason=reason, detail=detail):
                        if reason is not None or detail:
                            self.say(detail or f"the run was ended ({reason})")
                        await self.out.drain()
                        return code
        except ToxbridgeError:
            await self.out.drain()  # what arrived before the failure is shown first
            raise
        raise AssertionError("a run always ends with its exit")  # pragma: no cover

    async def _reader_left(self, error: OSError) -> int:
        """Our stdout's (or stderr's) reader is gone: nobody will see tox: cancel it now."""
        with contextlib.suppress(ToxbridgeError, TimeoutError):
            async with asyncio.timeout(CANCEL_ACK_S):
                await self.remote.cancel()
        if error.errno == errno.EPIPE:
            return READER_LEFT
        where = "stdout" if self.out.left_fd == 1 else "stderr"
        raise ToxbridgeError(f"cannot write to {where} ({error}); cancelled the remote run")

    def say(self, line: str) -> None:
        self.out.write_nowait(2, say(line, raw=self.terminal is not None and self.terminal.raw))

    def leave(self, code: int) -> None:
        """tty mode's way out at once (two ^C, SIGTERM): cancel the remote run, exit `code`."""
        if self.leaving is not None:
            return
        self.leaving = code
        why = "two ^C" if code == INTERRUPTED else f"{signal.Signals(code - 128).name}"
        self.say(f"{why}: cancelled the remote run")
        self.client.send_nowait(protocol.Cancel(self.client.new_id(), self.remote.id))
        if self.main is not None:
            self.main.cancel()

    def _on_sigint(self) -> None:
        self.interrupts += 1
        if self.interrupts == 1:
            self.out.write_nowait(
                2, b"\ntoxbridge: cancelling the remote run (press ^C again to exit now)\n"
            )
            self.client.send_nowait(protocol.Cancel(self.client.new_id(), self.remote.id))
        elif self.main is not None:
            self.main.cancel()

    def on_sigtstp(self) -> None:
        if self.stopping is None or self.stopping.done():
            self.stopping = asyncio.create_task(self._stop_self())

    async def _stop_self(self) -> None:
        """^Z: the server keeps the run while we are stopped; then we carry on."""
        if self.terminal is not None:
            self.terminal.stopping()  # our terminal restored, the remote session stopped
        await self.remote.pause()
        os.kill(os.getpid(), signal.SIGSTOP)  # returns once we are continued (SIGCONT)
        if self.terminal is not None:
            self.terminal.continued()
        self.remote.resume()
