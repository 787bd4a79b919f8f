"""Test events through a real server: real tox on the sample project, warm and cold."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import RunningServer
from tests.events.conftest import run_through, serve_sample
from tests.reporter.conftest import as_short_summary, short_summary, summary_counts
from tests.warm.test_identity import normalise as normalise_times
from toxbridge.reporter import events
from toxbridge.server.channel import EventChannel
from toxbridge.wire import protocol

_ADDRESS = re.compile(rb"\bat 0x[0-9a-f]+>")


def normalise(data: bytes, root: Path, *, unordered: bool = False) -> bytes:
    """The output less what differs from run to run anyway: times, pids, object addresses."""
    return normalise_times(_ADDRESS.sub(b"at <address>>", data), root, unordered=unordered)


async def test_every_test_of_the_sample_is_reported(events_server: RunningServer) -> None:
    seen = await run_through(events_server, "-e", "py")
    assert seen.started.events
    run = seen.as_tox_run()
    assert Counter(as_short_summary(run)) == short_summary(run.stdout)
    assert summary_counts(run.stdout) == [dict(f.counts) for f in run.of(events.Finish)]
    assert [type(run.records[0]), type(run.records[-1])] == [events.Session, events.Finish]
    assert {record.env for record in run.records} == {"py"}
    seqs = [m.seq for m in seen.messages if isinstance(m, protocol.FLOW_CONTROLLED)]
    assert seqs == list(range(len(seqs)))  # one numbering for output and test messages


@pytest.mark.parametrize("how", ["p", "r"])
async def test_each_env_of_a_multi_env_run_reports(events_server: RunningServer, how: str) -> None:
    run = (await run_through(events_server, how, "-e", "py,other")).as_tox_run()
    assert {record.env for record in run.records} == {"py", "other"}
    for env in ("py", "other"):
        assert len(run.of(events.Finish, env)) == 1
    twice = Counter(as_short_summary(run, "py") + as_short_summary(run, "other"))
    assert twice == short_summary(run.stdout)


async def test_an_env_without_pytest_gives_no_records_and_no_harm(
    events_server: RunningServer, tmp_path: Path
) -> None:
    out = tmp_path / "env.json"
    env = {"TOXBRIDGE_TEST_OUT": str(out)}
    seen = await run_through(events_server, "-e", "plain", env=env)
    assert seen.exit.code == 0
    assert seen.started.events  # the channel opened; the env just never used it
    assert seen.tests == []
    assert "TOXBRIDGE_ENV" not in json.loads(out.read_text())
    plain = await run_through(events_server, "-e", "plain", events_on=False, env=env)
    assert normalise(plain.output(protocol.Stream.STDOUT), events_server.root) == normalise(
        seen.output(protocol.Stream.STDOUT), events_server.root
    )


async def test_a_partial_run_reports_only_what_it_ran(events_server: RunningServer) -> None:
    run = (
        await run_through(events_server, "-e", "py", "--", "-rA", "tests", "-k", "fails")
    ).as_tox_run()
    ran = {report.nodeid for report in run.reports()}
    assert ran
    assert all("fail" in nodeid for nodeid in ran)
    (collection,) = run.of(events.Collection)
    assert collection.deselected > 0
    assert Counter(as_short_summary(run)) == short_summary(run.stdout)


@pytest.mark.parametrize(
    "args", [("-e", "py"), ("p", "-e", "py,other"), ("-e", "py", "--", "broken")]
)
async def test_the_output_is_byte_identical_with_and_without_events(
    events_server: RunningServer, args: tuple[str, ...]
) -> None:
    without = await run_through(events_server, *args, events_on=False)
    with_events = await run_through(events_server, *args)
    assert not without.started.events
    assert without.tests == []
    assert with_events.tests
    assert with_events.exit.code == without.exit.code
    unordered = args[0] == "p"
    for stream in protocol.Stream:
        assert normalise(
            with_events.output(stream), events_server.root, unordered=unordered
        ) == normalise(without.output(stream), events_server.root, unordered=unordered)


async def test_the_channel_is_the_servers_whatever_a_client_sends(
    events_server: RunningServer,
) -> None:
    async with EventChannel.open() as mine:  # what a client would like the reporter to use
        env = {"TOXBRIDGE_EVENTS": mine.address, "TOXBRIDGE_REPORTLOG": "1"}
        without = await run_through(events_server, "-e", "py", events_on=False, env=env)
        seen = await run_through(events_server, "-e", "py", env=env)
        await mine.finish()
        assert [item async for item in mine] == []
    assert without.tests == []
    reports = seen.as_tox_run().reports()
    assert reports
    assert all(report.reportlog is None for report in reports)  # not asked by the request
    left = [p.name for p in events_server.log.parent.iterdir() if p.name.startswith("toxbridge")]
    assert left == []  # each run's channel directory went with it


@pytest.fixture(scope="module")
def no_events_server(
    sample: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    log = tmp_path_factory.mktemp("server") / "server.log"
    yield from serve_sample(sample, log, "--no-test-events")


async def test_serve_no_test_events_runs_plain_tox(no_events_server: RunningServer) -> None:
    seen = await run_through(no_events_server, "-e", "py")
    assert not seen.started.events
    assert seen.tests == []
    assert seen.exit.code == 1  # the sample has failures
