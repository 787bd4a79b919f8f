"""The wire additions for test events and `watch`: round trips, old peers, malformed input."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from toxbridge.errors import ProtocolError
from toxbridge.reporter import events
from toxbridge.wire import protocol
from toxbridge.wire import watched as watched_wire

ids = st.text(min_size=1, max_size=40)
text = st.text(max_size=60)
scalars = st.none() | st.booleans() | st.integers() | text
headers = st.dictionaries(
    text.filter(lambda name: name not in ("id", "kind", "run", "event", "dropped")), scalars,
    max_size=4,
)  # fmt: skip

messages = st.one_of(
    st.builds(
        protocol.Run,
        ids,
        st.lists(text, max_size=4).map(tuple),
        st.dictionaries(text, text, max_size=2),
        st.booleans(),
        st.integers(0, 1000),
        st.booleans(),
        st.booleans(),
    ),
    st.builds(
        protocol.Started,
        ids,
        st.integers(1, 2**22),
        text,
        st.none() | text,
        st.none(),
        st.none() | st.integers(0, 100),
        st.booleans(),
        st.none() | st.lists(text, max_size=4).map(tuple),
    ),
    st.builds(protocol.Test, ids, st.integers(0, 2**40), st.integers(0, 10_000), st.binary()),
    st.builds(protocol.Watch, ids, st.booleans()),
    st.builds(
        protocol.Watched,
        ids,
        ids,
        st.sampled_from(["queued", "started", "exit"]),
        headers,
        st.none(),
        st.integers(0, 100),
    ),
    st.builds(
        protocol.Watched, ids, ids, st.sampled_from(["output", "test"]), headers, st.binary()
    ),
)


@given(messages)
def test_encode_decode_round_trip(message: protocol.Message) -> None:
    assert protocol.decode(protocol.encode(message)) == message


RECORD = events.Start(
    env="py", sid="s1", t=1.0, pid=7, worker=None, nodeid="t.py::a", path="/w/t.py", line=3,
    domain="a",
)  # fmt: skip


def test_a_test_message_carries_record_lines_in_one_raw_frame() -> None:
    data = events.encode(RECORD) * 2
    frames = protocol.encode(protocol.Test("r", 4, 2, data))
    assert json.loads(frames[1]) == {"id": "r", "kind": "test", "seq": 4, "count": 2}
    assert frames[2:] == [data]
    message = protocol.decode(frames)
    assert isinstance(message, protocol.Test)
    assert message.records() == [RECORD, RECORD]


def test_a_bad_line_in_a_test_message_is_named_not_raised() -> None:
    message = protocol.Test("r", 0, 2, events.encode(RECORD) + b"{broken\n")
    good, bad = message.records()
    assert good == RECORD
    assert isinstance(bad, events.BadRecord)


def test_test_events_share_credit_and_seq_with_output() -> None:
    assert set(protocol.FLOW_CONTROLLED) == {protocol.Output, protocol.Test}


def test_old_peers_see_what_they_know() -> None:
    plain = json.loads(protocol.encode(protocol.Run("r", ("-e", "py")))[1])
    assert "events" not in plain
    assert "report_log" not in plain
    old_client_run = b'{"id": "r", "kind": "run", "args": []}'
    run = protocol.decode([protocol.MAGIC, old_client_run])
    assert isinstance(run, protocol.Run)
    assert (run.events, run.report_log) == (False, False)
    old_server_started = b'{"id": "r", "kind": "started", "pid": 5, "cwd": "/w"}'
    started = protocol.decode([protocol.MAGIC, old_server_started])
    assert isinstance(started, protocol.Started)
    assert (started.events, started.args) == (False, None)


@pytest.mark.parametrize(
    "message",
    [
        protocol.Queued("run-1", 2, 30.0),
        protocol.Started("run-1", 9, "/w", "4.2", 30.0, 64, True, ("-e", "py", "--", "-k", "x")),
        protocol.Output("run-1", protocol.Stream.STDERR, 3, b"\x00\xffbytes"),
        protocol.Test("run-1", 4, 1, events.encode(RECORD)),
        protocol.Exit("run-1", 1, False, 2.5, protocol.EndReason.LIMIT, "why"),
    ],
)
def test_watched_carries_the_message_and_unwraps_to_it(message: protocol.Reply) -> None:
    watched = watched_wire.watched("w-1", "run-1", message)
    frames = protocol.encode(watched)
    header = json.loads(frames[1])
    assert (header["id"], header["kind"], header["run"]) == ("w-1", "watched", "run-1")
    assert header["event"] == _kind(message)
    decoded = protocol.decode(frames)
    assert isinstance(decoded, protocol.Watched)
    assert watched_wire.unwrap(decoded) == message


def _kind(message: protocol.Reply) -> str:
    return str(json.loads(protocol.encode(message)[1])["kind"])


def test_a_gap_says_how_many_were_dropped() -> None:
    frames = protocol.encode(protocol.Watched("w", "r", "gap", dropped=12))
    assert json.loads(frames[1]) == {
        "id": "w", "kind": "watched", "run": "r", "event": "gap", "dropped": 12
    }  # fmt: skip
    gap = protocol.decode(frames)
    assert isinstance(gap, protocol.Watched)
    assert gap.dropped == 12
    assert watched_wire.unwrap(gap) is None


@pytest.mark.parametrize(
    "frames",
    [
        [protocol.MAGIC, b'{"id": "a", "kind": "test", "seq": 0, "count": 1}'],
        [protocol.MAGIC, b'{"id": "a", "kind": "test", "seq": 0, "count": 1}', b"x", b"y"],
        [protocol.MAGIC, b'{"id": "a", "kind": "test", "seq": -1, "count": 1}', b"x"],
        [protocol.MAGIC, b'{"id": "w", "kind": "watched", "run": "r", "event": "launch"}'],
        [protocol.MAGIC, b'{"id": "w", "kind": "watched", "event": "exit"}'],
        [protocol.MAGIC, b'{"id": "w", "kind": "watched", "run": "r", "event": "output"}'],
        [protocol.MAGIC, b'{"id": "a", "kind": "run", "args": [], "events": "yes"}'],
        [protocol.MAGIC, b'{"id": "a", "kind": "watch", "output": 1}'],
    ],
)
def test_malformed_additions_are_bad_args(frames: list[bytes]) -> None:
    with pytest.raises(ProtocolError) as caught:
        protocol.decode(frames)
    assert caught.value.code == "bad-args"


def test_unwrap_refuses_fields_that_make_no_such_message() -> None:
    with pytest.raises(ProtocolError):
        watched_wire.unwrap(protocol.Watched("w", "r", "exit", {"code": "zero"}))
