"""The reporter never changes a run: same output with and without it, and when its
channel is missing, refuses, breaks mid-run or stops reading. And it works when tox is
forked by toxbridge's warm worker, one run after another, without one run's state
reaching the next."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from tests.reporter.conftest import ToxRun, base_env, run_tox
from toxbridge.process.warm.supervisor import WarmTox
from toxbridge.reporter import events
from toxbridge.server.channel import ChannelNote, EventChannel

_TIMES = [
    (re.compile(r"\d+(\.\d+)?(=setup\[\d+(\.\d+)?\]\+cmd\[\d+(\.\d+)?\])? seconds?\b"), "<t> s"),
    (re.compile(r" in \d+\.\d+s\b"), " in <t>s"),
    (re.compile(r"\bpid=\d+"), "pid=<pid>"),
    (re.compile(r"\bat 0x[0-9a-f]+>"), "at <address>>"),
]


def normalised(run: ToxRun) -> tuple[int, str, str]:
    streams = []
    for text in (run.stdout, run.stderr):
        for pattern, replacement in _TIMES:
            text = pattern.sub(replacement, text)
        streams.append(text)
    return run.code, streams[0], streams[1]


OPTIONS = {
    "default": (),
    "quiet-no-tb": ("--", "-q", "--tb=no", "tests"),
    "verbose-all": ("--", "-vv", "-rA", "tests"),
    "no-terminal": ("--", "-p", "no:terminal", "tests"),
    "line-tb": ("--", "--tb=line", "-rfE", "tests", "broken/test_fine.py"),
    "collection-errors": ("--", "broken"),
}


@pytest.mark.parametrize("name", list(OPTIONS))
async def test_the_output_is_the_same_with_events(name: str, sample: Path) -> None:
    without = await run_tox(sample, "-e", "py", *OPTIONS[name], events_on=False)
    with_events = await run_tox(sample, "-e", "py", *OPTIONS[name])
    assert with_events.records  # the reporter was there
    assert normalised(with_events) == normalised(without)


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, asyncio.Event], Awaitable[None]]


@contextlib.asynccontextmanager
async def unix_server(path: str, handle: Handler) -> AsyncIterator[None]:
    """A stand-in for the channel; its handlers may wait for `closing`, set on leaving."""
    closing = asyncio.Event()
    handlers: list[asyncio.Task[None]] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.append(task)
        try:
            await handle(reader, writer, closing)
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    server = await asyncio.start_unix_server(serve, path)
    try:
        yield
    finally:
        closing.set()
        server.close()
        await asyncio.gather(*handlers)
        await server.wait_closed()


async def test_a_channel_address_that_leads_nowhere(sample: Path, tmp_path: Path) -> None:
    without = await run_tox(sample, "-e", "py", events_on=False)
    nowhere = await run_tox(sample, "-e", "py", address=str(tmp_path / "missing" / "events.sock"))
    assert normalised(nowhere) == normalised(without)
    assert not (tmp_path / "missing").exists()  # the tox plugin made nothing there
    refused = await run_tox(sample, "-e", "py", address=str(tmp_path / "no-listener.sock"))
    assert normalised(refused) == normalised(without)
    assert (tmp_path / "pythonpath" / "toxbridge_reporter.py").exists()  # it was tried


async def test_a_channel_that_closes_mid_run(sample: Path, tmp_path: Path) -> None:
    lines: list[bytes] = []

    async def hang_up_after_one_line(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, closing: asyncio.Event
    ) -> None:
        lines.append(await reader.readline())

    without = await run_tox(sample, "-e", "py", events_on=False)
    address = str(tmp_path / "events.sock")
    async with unix_server(address, hang_up_after_one_line):
        broken = await run_tox(sample, "-e", "py", address=address)
    assert normalised(broken) == normalised(without)
    assert isinstance(events.decode_line(lines[0]), events.Session)


async def test_a_channel_that_stops_reading(sample: Path, tmp_path: Path) -> None:
    """A record larger than the socket's buffer blocks the reporter until its send
    timeout; then it goes quiet and pytest finishes as it would have."""
    accepted = asyncio.Event()

    async def never_read(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, closing: asyncio.Event
    ) -> None:
        accepted.set()
        await closing.wait()

    args = ("-e", "py", "--", "-q", "bulky")
    without = await run_tox(sample, *args, events_on=False)
    address = str(tmp_path / "events.sock")
    async with unix_server(address, never_read):
        stalled = await run_tox(sample, *args, address=address)
    assert accepted.is_set()
    assert normalised(stalled) == normalised(without)
    assert stalled.code == 0


async def test_an_overlong_line_is_dropped_with_a_note(sample: Path) -> None:
    async with EventChannel.open(max_line=1024 * 1024) as channel:
        received: list[events.Record | ChannelNote] = []

        async def consume() -> None:
            async for item in channel:
                received.append(item)

        async with asyncio.TaskGroup() as group:
            group.create_task(consume())
            env = {**base_env(), events.ADDRESS_VARIABLE: channel.address}
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "tox", "-e", "py", "--", "-q", "bulky", cwd=sample, env=env,
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
            )  # fmt: skip
            assert await process.wait() == 0
            await channel.finish()
    notes = [item for item in received if isinstance(item, ChannelNote)]
    # the big test's call and teardown reports both carry its captured output
    assert [note.message for note in notes] == [f"a line over {1024 * 1024} bytes was dropped"] * 2
    reports = [(r.nodeid, r.when) for r in received if isinstance(r, events.Report)]
    assert reports == [
        ("bulky/test_bulky.py::test_prints_a_lot", "setup"),
        *[("bulky/test_bulky.py::test_after_it", when) for when in events.PHASES],
    ]
    assert isinstance(received[-1], events.Finish)


async def warm_run(
    warm: WarmTox, root: Path, args: list[str], extra: dict[str, str]
) -> tuple[int, bytes]:
    output = []
    async with warm.start(args, env={**base_env(), **extra}) as child:
        while (chunk := await child.read(1 << 16)) is not None:
            output.append(chunk.data)
        code = await child.wait()
    return code, b"".join(output)


async def test_warm_tox_loads_the_plugin_in_each_forked_run(
    sample: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="toxbridge.process.warm.supervisor")
    out = tmp_path / "seen.json"
    warm = WarmTox(str(sample))
    warm.env = {**base_env(), **{k: v for k, v in os.environ.items() if k.startswith("LC_")}}
    async with warm:
        collected = []
        for _ in range(2):  # each run its own channel: nothing of the first reaches the second
            async with EventChannel.open() as channel:
                reader = asyncio.create_task(collect(channel))
                extra = {events.ADDRESS_VARIABLE: channel.address}
                code, output = await warm_run(warm, sample, ["-e", "py"], extra)
                await channel.finish()
                collected.append(await reader)
            assert code == 1, output
        code, _ = await warm_run(warm, sample, ["-e", "user"], {"TOXBRIDGE_TEST_OUT": str(out)})
        worker = warm._worker
    for records in collected:
        assert [type(r) for r in records][:: len(records) - 1] == [events.Session, events.Finish]
        assert len({r.sid for r in records}) == 1
    assert collected[0][0].sid != collected[1][0].sid
    assert code == 0
    assert '"PYTEST_PLUGINS": "userplugin"' in out.read_text()  # the third run: no events
    assert worker is not None
    assert "cold" not in caplog.text


async def collect(channel: EventChannel) -> list[events.Record]:
    return [item async for item in channel if not isinstance(item, ChannelNote)]
