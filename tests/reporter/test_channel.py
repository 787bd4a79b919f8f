"""The server's end of the channel, with real unix sockets and writers that misbehave."""

from __future__ import annotations

import asyncio
import itertools
import os
import socket
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toxbridge.reporter import events
from toxbridge.server.channel import (
    ChannelError,
    ChannelNote,
    EventChannel,
    Item,
    LineChannel,
    _Writer,
)


def start(nodeid: str, pid: int = 1) -> bytes:
    record = events.Start(
        env="py", sid="s", t=1.0, pid=pid, worker=None, nodeid=nodeid, path="/p", line=1, domain="d"
    )
    return events.encode(record)


async def connect(
    channel: EventChannel | LineChannel,
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_unix_connection(channel.address)


async def drain(channel: EventChannel) -> list[Item]:
    return [item async for item in channel]


async def arrived(channel: EventChannel | LineChannel, condition: Callable[[], bool]) -> None:
    """Wait, on the channel's own signal, until something has come in that makes it true."""
    while not condition():
        channel._arrived.clear()
        await channel._arrived.wait()


async def test_many_writers_each_keep_their_order() -> None:
    async with EventChannel.open() as channel:
        reader = asyncio.create_task(drain(channel))

        async def write(pid: int) -> None:
            _, writer = await connect(channel)
            for n in range(100):
                writer.write(start(f"test_{n}", pid))
                await writer.drain()
            writer.close()
            await writer.wait_closed()

        await asyncio.gather(*(write(pid) for pid in range(20)))
        await channel.finish()
        items = await reader
    assert len(items) == channel.records == 2000
    for pid in range(20):
        mine = [i.nodeid for i in items if isinstance(i, events.Start) and i.pid == pid]
        assert mine == [f"test_{n}" for n in range(100)]


async def test_bad_overlong_and_cut_off_lines_become_notes() -> None:
    async with EventChannel.open(max_line=1000) as channel:
        reader = asyncio.create_task(drain(channel))
        _, writer = await connect(channel)
        writer.write(start("a") + b"{not json}\n" + b"x" * 5000 + b"\n" + start("b"))
        writer.write(b'{"v": 1, "kind": "st')  # and then the writer dies
        await writer.drain()
        writer.close()
        await writer.wait_closed()
        await channel.finish()
        items = await reader
    kinds = [i.nodeid if isinstance(i, events.Start) else getattr(i, "message", "") for i in items]
    assert kinds[0] == "a"
    assert kinds[1].startswith("a line that is not a record was dropped: not a JSON line")
    assert kinds[2:] == [
        "a line over 1000 bytes was dropped",
        "b",
        "the writer left in mid-line: 20 bytes dropped",
    ]
    assert (channel.records, channel.notes) == (2, 3)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=400), max_size=12), st.integers(1, 400))
def test_lines_are_the_same_however_the_bytes_are_cut(cuts: list[int], max_line: int) -> None:
    data = start("first") + b"\n" + b"y" * 300 + b"\n" + start("second") + b"z" * 50
    channel = EventChannel("/nonexistent", max_line=max_line, max_queued=100)
    writer = _Writer(channel, 1)
    points = sorted({min(cut, len(data)) for cut in cuts} | {0, len(data)})
    for begin, end in itertools.pairwise(points):
        writer.data_received(data[begin:end])
        assert len(writer.partial) <= max_line
    writer.connection_lost(None)
    whole = EventChannel("/nonexistent", max_line=max_line, max_queued=100)
    single = _Writer(whole, 1)
    single.data_received(data)
    single.connection_lost(None)
    assert list(channel._queue) == list(whole._queue)


async def test_a_full_queue_stops_reading_and_loses_nothing() -> None:
    async with EventChannel.open(max_queued=10) as channel:
        _, writer = await connect(channel)
        for n in range(2000):
            writer.write(start(f"test_{n}"))
        # with nobody consuming, the channel reads until its queue is full, then stops
        await arrived(channel, lambda: len(channel._queue) >= 10)
        assert all(w.transport.is_reading() is False for w in channel._writers)  # type: ignore[union-attr]
        reader = asyncio.create_task(drain(channel))
        await writer.drain()
        writer.close()
        await writer.wait_closed()
        await channel.finish()
        items = await reader
    assert [i.nodeid for i in items] == [f"test_{n}" for n in range(2000)]  # type: ignore[union-attr]


async def test_a_line_channel_is_bounded_in_bytes_and_forwards_lines_as_they_came() -> None:
    line = start("test_x")
    async with LineChannel.open(max_queued=10_000, max_bytes=len(line) * 5) as channel:
        _, writer = await connect(channel)
        for n in range(2000):
            writer.write(start(f"test_{n}"))
        await arrived(channel, lambda: channel._bytes >= len(line) * 5)
        # it stops once the bound is met: beyond it, at most the rest of one socket read
        assert channel._bytes <= len(line) * 5 + 256 * 1024
        assert len(channel._queue) < 2000
        assert all(w.transport.is_reading() is False for w in channel._writers)  # type: ignore[union-attr]
        reader = asyncio.create_task(drain_lines(channel))
        await writer.drain()
        writer.close()
        await writer.wait_closed()
        await channel.finish()
        lines = await reader
    assert lines == [start(f"test_{n}").rstrip(b"\n") for n in range(2000)]


async def drain_lines(channel: LineChannel) -> list[bytes | ChannelNote]:
    return [item async for item in channel]


async def test_finish_cuts_a_writer_that_stays_connected() -> None:
    async with EventChannel.open() as channel:
        reader = asyncio.create_task(drain(channel))
        _, writer = await connect(channel)
        writer.write(start("a"))
        await writer.drain()
        await arrived(channel, lambda: channel.records >= 1)
        await channel.finish(grace_s=0.05)
        items = await reader
        writer.close()
    assert items[1:] == [ChannelNote(1, "the writer was still connected after the run: cut off")]


async def test_a_writer_after_finish_is_refused() -> None:
    async with EventChannel.open() as channel:
        await channel.finish(grace_s=0)
        with pytest.raises(OSError):  # noqa: PT011 (refused or gone: either way, no writer)
            await connect(channel)
        assert await drain(channel) == []


async def test_the_directory_is_private_and_goes_away(tmp_path: Path) -> None:
    async with EventChannel.open(parent=str(tmp_path)) as channel:
        directory = channel.directory
        assert os.path.dirname(directory) == str(tmp_path)
        assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
        assert stat.S_ISSOCK(os.stat(channel.address).st_mode)
        os.mkdir(os.path.join(directory, "pythonpath"))  # what the tox plugin adds
        module = os.path.join(directory, "pythonpath", "toxbridge_reporter.py")
        os.close(os.open(module, os.O_CREAT | os.O_WRONLY))
    assert os.listdir(tmp_path) == []


async def test_a_long_parent_path_falls_back_to_a_short_one(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 120)
    os.mkdir(deep)
    async with EventChannel.open(parent=str(deep)) as channel:
        assert len(channel.address) <= 100
        with socket.socket(socket.AF_UNIX) as probe:
            probe.connect(channel.address)


async def test_a_channel_that_cannot_be_made_says_why() -> None:
    with pytest.raises(ChannelError, match="cannot create a directory for test events"):
        async with EventChannel.open(parent="/nonexistent-toxbridge-parent"):
            pass
