"""A channel that cannot open, or whose socket is gone before pytest connects: the run goes
on as plain tox. A server in this process (so that the channel can be broken on purpose),
real tox on the reporter's sample."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.events.conftest import ServerRun
from tests.events.test_server_events import normalise
from tests.reporter.conftest import base_env
from toxbridge.config import Endpoint
from toxbridge.net.client import Client
from toxbridge.server.app import Server, ServerSettings
from toxbridge.server.channel import ChannelError, EventChannel
from toxbridge.server.execute import RunSettings
from toxbridge.wire import protocol

TIMEOUT_S = 90
OPEN = EventChannel.open


@contextlib.asynccontextmanager
async def in_process_server(root: Path, tmp_path: Path) -> AsyncIterator[Endpoint]:
    endpoint = Endpoint(f"ipc://{tmp_path}/events.sock")
    settings = RunSettings(root=str(root), tox_command=(sys.executable, "-m", "tox"))
    server = Server(ServerSettings(endpoint, settings))
    serving = asyncio.create_task(server.serve())
    try:
        await server.bound.wait()
        yield endpoint
    finally:
        server.stop(now=True)
        await serving


async def run_py(endpoint: Endpoint, *, events_on: bool) -> ServerRun:
    async with Client(endpoint, timeout=TIMEOUT_S) as client:
        messages: list[protocol.Reply] = []
        async with client.run(["-e", "py"], events=events_on) as remote:
            async for message in remote:
                messages.append(message)
    assert remote.started is not None
    assert remote.result is not None
    return ServerRun(remote.started, remote.result, messages)


def cannot_open(**_: Any) -> contextlib.AbstractAsyncContextManager[EventChannel]:
    raise ChannelError("no room for a channel (simulated)")


def opens_then_breaks(**options: Any) -> contextlib.AbstractAsyncContextManager[EventChannel]:
    @contextlib.asynccontextmanager
    async def broken() -> AsyncIterator[EventChannel]:
        async with OPEN(**options) as channel:
            os.unlink(channel.address)  # no pytest will reach it
            yield channel

    return broken()


@pytest.mark.timeout(TIMEOUT_S * 3)
@pytest.mark.parametrize(
    ("breaking", "opened"), [(cannot_open, False), (opens_then_breaks, True)], ids=["open", "break"]
)
async def test_the_run_goes_on_as_plain_tox(
    breaking: Callable[..., Any],
    opened: bool,
    sample: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in base_env(("-e", "py")).items():
        monkeypatch.setenv(name, value)
    async with in_process_server(sample, tmp_path) as endpoint:
        plain = await run_py(endpoint, events_on=False)
        monkeypatch.setattr(EventChannel, "open", breaking)
        broken = await run_py(endpoint, events_on=True)
    assert broken.started.events is opened
    assert broken.tests == []
    assert broken.exit.code == plain.exit.code == 1
    for stream in protocol.Stream:
        assert normalise(broken.output(stream), sample) == normalise(plain.output(stream), sample)
