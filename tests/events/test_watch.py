"""`watch` through a real server with real tox: what watchers see, and what they cannot do
(slow a run, outlive their connection)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import zmq
import zmq.asyncio

from tests.conftest import RunningServer, start_server, wait_for_line
from toxbridge.config import parse_endpoint
from toxbridge.net.client import Client, RemoteRun, RemoteWatch
from toxbridge.reporter import events
from toxbridge.wire import protocol
from toxbridge.wire import watched as watched_wire

TIMEOUT_S = 90
BIG = 80_000_000  # more than the server's socket and a watcher's buffer hold together


@pytest.fixture(scope="module")
def watched_server(
    project: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    log = tmp_path_factory.mktemp("server") / "server.log"
    running = start_server(project, log, "--liveness", "3", "--watch-buffer", "1000000")
    try:
        yield running
    finally:
        running.stop()


def client_of(server: RunningServer) -> Client:
    return Client(parse_endpoint(server.endpoint), timeout=TIMEOUT_S, liveness_s=3)


async def messages_until_exits(
    watch: RemoteWatch, runs: set[str]
) -> dict[str, list[protocol.Watched]]:
    """Every watched message of `runs` until each has its exit."""
    seen: dict[str, list[protocol.Watched]] = {run: [] for run in runs}
    ended: set[str] = set()
    async for watched in watch:
        if watched.run in runs:
            seen[watched.run].append(watched)
            if watched.event == "exit":
                ended.add(watched.run)
                if ended == runs:
                    return seen
    raise AssertionError("the watch ended first")


def call_outcomes(seen: list[protocol.Watched]) -> list[tuple[str, str]]:
    """(node id, outcome) of each test's call phase in a run's watched `test` messages."""
    records = [
        record
        for watched in seen
        if isinstance(message := watched_wire.unwrap(watched), protocol.Test)
        for record in message.records()
    ]
    reports = [r for r in records if isinstance(r, events.Report) and r.when == "call"]
    return sorted((r.nodeid, r.outcome) for r in reports)


async def run_to_end(client: Client, *args: str, events_on: bool = False) -> protocol.Exit:
    async with client.run(args, events=events_on) as remote:
        async for _ in remote:
            pass
    assert remote.result is not None
    return remote.result


@pytest.mark.timeout(TIMEOUT_S)
async def test_a_watcher_sees_runs_another_client_started(watched_server: RunningServer) -> None:
    async with (
        client_of(watched_server) as watcher,
        client_of(watched_server) as runner,
        watcher.watch(output=True) as watch,
    ):
        first = runner.run(["-e", "py"], events=True)
        second = runner.run(["-e", "exit", "--", "3"])
        async with first, second:
            seen_task = asyncio.create_task(messages_until_exits(watch, {first.id, second.id}))
            outcomes = await asyncio.gather(_drain(first), _drain(second))
            seen = await seen_task
    assert [o.code for o in outcomes] == [1, 3]
    kinds = {run: [w.event for w in seen[run]] for run in seen}
    assert kinds[second.id][0] == "queued"  # and again as its position changes
    assert next(kind for kind in kinds[second.id] if kind != "queued") == "started"
    assert kinds[second.id][-1] == "exit"
    started = watched_wire.unwrap(seen[first.id][0])
    assert isinstance(started, protocol.Started)
    assert started.args == ("-e", "py")
    assert started.cwd == str(watched_server.root)
    assert started.events
    assert call_outcomes(seen[first.id]) == [
        ("test_sample.py::test_fails", "failed"),
        ("test_sample.py::test_passes", "passed"),
    ]
    output = b"".join(w.data or b"" for w in seen[first.id] if w.event == "output")
    assert b"1 failed, 1 passed" in output
    exit_ = watched_wire.unwrap(seen[second.id][-1])
    assert isinstance(exit_, protocol.Exit)
    assert exit_.code == 3


@pytest.mark.timeout(TIMEOUT_S)
async def test_a_run_whose_client_asks_no_events_has_them_while_someone_watches(
    watched_server: RunningServer,
) -> None:
    """A `toxbridge run` in a pipeline asks no events; an editor watching still gets the
    run's exact results. Once nobody watches, such a run is plain tox again."""
    async with client_of(watched_server) as watcher, client_of(watched_server) as runner:
        async with watcher.watch() as watch:
            remote = runner.run(["-e", "py"])
            async with remote:
                seen_task = asyncio.create_task(messages_until_exits(watch, {remote.id}))
                own = [message async for message in remote]
                seen = await seen_task
        async with runner.run(["-e", "py"]) as after:
            async for _ in after:
                pass
    assert remote.started is not None
    assert remote.started.events
    assert call_outcomes(seen[remote.id]) == [
        ("test_sample.py::test_fails", "failed"),
        ("test_sample.py::test_passes", "passed"),
    ]
    assert any(isinstance(message, protocol.Test) for message in own)  # its client may ignore
    assert after.started is not None
    assert not after.started.events


async def _drain(remote: RemoteRun) -> protocol.Exit:
    async for _ in remote:
        pass
    assert remote.result is not None
    return remote.result


@pytest.mark.timeout(TIMEOUT_S)
async def test_two_watchers_see_the_same_run(watched_server: RunningServer) -> None:
    async with (
        client_of(watched_server) as one,
        client_of(watched_server) as two,
        one.watch() as first,
        two.watch() as second,
        one.run(["-e", "py"], events=True) as remote,
    ):
        seen = asyncio.gather(
            messages_until_exits(first, {remote.id}), messages_until_exits(second, {remote.id})
        )
        await _drain(remote)
        by_first, by_second = await seen
    assert [w.event for w in by_first[remote.id]] == [w.event for w in by_second[remote.id]]
    assert "output" not in {w.event for w in by_first[remote.id]}  # not asked for
    assert "test" in {w.event for w in by_first[remote.id]}


@pytest.fixture
async def raw_watcher(watched_server: RunningServer) -> AsyncIterator[zmq.asyncio.Socket]:
    """A watcher that asks for output and then reads nothing (but says it is alive)."""
    context = zmq.asyncio.Context.instance()
    socket = context.socket(zmq.DEALER)
    socket.setsockopt(zmq.RCVHWM, 1)
    socket.setsockopt(zmq.RCVBUF, 4096)
    socket.setsockopt(zmq.LINGER, 0)
    socket.connect(watched_server.endpoint)
    await socket.send_multipart(protocol.encode(protocol.Watch("slow", output=True)))
    ack = protocol.decode(await socket.recv_multipart())
    assert isinstance(ack, protocol.Ack)
    try:
        yield socket
    finally:
        socket.close()


async def heartbeat(socket: zmq.asyncio.Socket, stop: asyncio.Event) -> None:
    while not stop.is_set():
        await socket.send_multipart(protocol.encode(protocol.Heartbeat("slow")))
        try:
            async with asyncio.timeout(0.5):
                await stop.wait()
        except TimeoutError:
            continue


@pytest.mark.timeout(TIMEOUT_S)
async def test_a_slow_watcher_never_holds_up_a_run(
    watched_server: RunningServer, raw_watcher: zmq.asyncio.Socket
) -> None:
    stop = asyncio.Event()
    beating = asyncio.create_task(heartbeat(raw_watcher, stop))
    async with client_of(watched_server) as runner:
        received = 0
        async with runner.run(["-e", "big", "--", str(BIG)]) as remote:
            async for event in remote:
                if isinstance(event, protocol.Output) and event.stream is protocol.Stream.STDOUT:
                    received += len(event.data)
        assert remote.result is not None
        assert remote.result.code == 0
    assert received >= BIG  # all of it, and tox's own lines
    gaps, events_seen = 0, []
    while True:  # now read what the watcher was kept
        message = protocol.decode(await raw_watcher.recv_multipart())
        if not isinstance(message, protocol.Watched) or message.run != remote.id:
            continue
        events_seen.append(message.event)
        gaps += message.dropped
        if message.event == "exit":
            break
    stop.set()
    await beating
    assert events_seen[0] == "started"
    assert "gap" in events_seen
    assert gaps > 0


@pytest.mark.timeout(TIMEOUT_S)
async def test_a_dead_watcher_is_dropped(watched_server: RunningServer) -> None:
    context = zmq.asyncio.Context.instance()
    socket = context.socket(zmq.DEALER)
    socket.setsockopt(zmq.LINGER, 0)
    socket.connect(watched_server.endpoint)
    await socket.send_multipart(protocol.encode(protocol.Watch("doomed")))
    assert isinstance(protocol.decode(await socket.recv_multipart()), protocol.Ack)
    socket.close()  # gone without a word, and no more heartbeats
    line = await asyncio.to_thread(wait_for_line, watched_server.log, "watch doomed ended")
    assert "silent" in line or "went away" in line
    async with client_of(watched_server) as runner:
        assert (await run_to_end(runner, "-e", "exit", "--", "0")).code == 0


@pytest.mark.timeout(TIMEOUT_S)
async def test_leaving_a_watch_cancels_it_and_heartbeats_keep_it(
    watched_server: RunningServer,
) -> None:
    async with client_of(watched_server) as client:
        async with client.watch() as watch:
            alive = await heartbeat_reply(client, watch.id)
            assert alive == protocol.Alive(watch.id, "watching")
        line = await asyncio.to_thread(wait_for_line, watched_server.log, f"watch {watch.id} ended")
    assert "cancelled" in line


async def heartbeat_reply(client: Client, watch_id: str) -> protocol.Reply:
    """The answer to one heartbeat of the watch (taken over from it for the purpose)."""
    answered: asyncio.Future[protocol.Reply] = asyncio.get_running_loop().create_future()

    def deliver(reply: protocol.Reply) -> None:
        if isinstance(reply, protocol.Alive) and not answered.done():
            answered.set_result(reply)

    client.register(watch_id, deliver)
    await client.send(protocol.Heartbeat(watch_id))
    return await asyncio.wait_for(answered, TIMEOUT_S)
