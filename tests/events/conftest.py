"""Real `toxbridge serve` processes on the reporter's sample project, warm and cold, and
runs through them with a real client that asks for test events."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import RunningServer, start_server
from tests.reporter.conftest import ToxRun
from tests.reporter.conftest import sample as sample  # the session's fixture, shared
from toxbridge.config import parse_endpoint
from toxbridge.net.client import Client
from toxbridge.reporter import events
from toxbridge.wire import protocol

RUN_TIMEOUT_S = 90
ALLOW = (
    "--allow-env",
    "TOXBRIDGE_TEST_*",
    "--allow-env",
    "TOXBRIDGE_EVENTS",
    "--allow-env",
    "TOXBRIDGE_REPORTLOG",
)


@dataclass
class ServerRun:
    """What a client saw of one run: the messages in order, and the records they carried."""

    started: protocol.Started
    exit: protocol.Exit
    messages: list[protocol.Reply] = field(default_factory=list)

    @property
    def tests(self) -> list[protocol.Test]:
        return [m for m in self.messages if isinstance(m, protocol.Test)]

    def output(self, stream: protocol.Stream) -> bytes:
        return b"".join(
            m.data for m in self.messages if isinstance(m, protocol.Output) and m.stream is stream
        )

    def as_tox_run(self) -> ToxRun:
        records: list[events.Record] = []
        for message in self.tests:
            for record in message.records():
                assert not isinstance(record, events.BadRecord), record
                records.append(record)
        stdout = self.output(protocol.Stream.STDOUT).decode()
        stderr = self.output(protocol.Stream.STDERR).decode()
        return ToxRun(self.exit.code, stdout, stderr, records)


async def run_through(
    server: RunningServer,
    *args: str,
    events_on: bool = True,
    report_log: bool = False,
    env: Mapping[str, str] | None = None,
) -> ServerRun:
    async with Client(parse_endpoint(server.endpoint), timeout=RUN_TIMEOUT_S) as client:
        remote = client.run(args, env=env, events=events_on, report_log=report_log)
        messages: list[protocol.Reply] = []
        async with remote:
            async for message in remote:
                messages.append(message)
    assert remote.started is not None
    assert remote.result is not None
    return ServerRun(remote.started, remote.result, messages)


def serve_sample(root: Path, log: Path, *extra: str) -> Iterator[RunningServer]:
    """A server whose temporary files (the runs' channels) go in `log`'s directory."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TMPDIR", str(log.parent))
        running = start_server(root, log, *ALLOW, *extra)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module", params=["warm", "cold"])
def events_server(
    request: pytest.FixtureRequest, sample: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    """A server on the sample, warm and cold; clients may set TOXBRIDGE_TEST_* (and try
    TOXBRIDGE_EVENTS, which the server must override)."""
    extra = ("--cold",) if request.param == "cold" else ()
    log = tmp_path_factory.mktemp("server") / "server.log"
    yield from serve_sample(sample, log, *extra)
