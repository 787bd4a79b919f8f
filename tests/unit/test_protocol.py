"""The pure protocol layer: round trips, and rejection of anything malformed."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from toxbridge.errors import ProtocolError
from toxbridge.wire import protocol

ids = st.text(min_size=1, max_size=40)
text = st.text(max_size=60)
finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
seconds = st.floats(min_value=0, max_value=1e6, allow_nan=False)
json_objects = st.dictionaries(text, st.one_of(st.integers(), text, st.booleans()), max_size=4)

messages = st.one_of(
    st.builds(
        protocol.Run,
        ids,
        st.lists(text, max_size=6).map(tuple),
        st.dictionaries(text, text, max_size=3),
        st.booleans(),
        st.integers(0, 1000),
    ),
    st.builds(protocol.Cancel, ids, st.none() | text, st.none() | text),
    st.builds(protocol.Ping, ids),
    st.builds(protocol.Quit, ids, st.booleans()),
    st.builds(protocol.Credit, ids, st.integers(1, 10_000)),
    st.builds(protocol.Heartbeat, ids),
    st.builds(protocol.Pause, ids),
    st.builds(protocol.Resume, ids),
    st.builds(protocol.Queued, ids, st.integers(0, 100), st.none() | seconds),
    st.builds(
        protocol.Started,
        ids,
        st.integers(1, 2**22),
        text,
        st.none() | text,
        st.none() | seconds,
        st.none() | st.integers(0, 10_000),
    ),
    st.builds(
        protocol.Output, ids, st.sampled_from(protocol.Stream), st.integers(0, 2**40), st.binary()
    ),
    st.builds(
        protocol.Exit,
        ids,
        st.integers(-255, 255),
        st.booleans(),
        finite,
        st.none() | st.sampled_from(protocol.EndReason),
        st.none() | text,
    ),
    st.builds(protocol.Ack, ids, st.lists(text, max_size=3).map(tuple)),
    st.builds(
        protocol.Pong,
        ids,
        finite,
        text,
        st.integers(0, 9),
        st.lists(json_objects, max_size=2).map(tuple),
        st.integers(0, 9),
        st.none() | seconds,
    ),
    st.builds(protocol.Alive, ids, text),
    st.builds(protocol.Error, st.none() | ids, st.sampled_from(protocol.ErrorCode), text),
)


@given(messages)
def test_encode_decode_round_trip(message: protocol.Message) -> None:
    frames = protocol.encode(message)
    assert frames[0] == protocol.MAGIC
    assert all(isinstance(frame, bytes) for frame in frames)
    assert protocol.decode(frames) == message


def test_output_payload_is_raw_bytes_in_its_own_frame() -> None:
    data = bytes(range(256)) * 4
    frames = protocol.encode(protocol.Output("r1", protocol.Stream.STDERR, 7, data))
    assert frames[2] is data or frames[2] == data
    assert json.loads(frames[1]) == {"id": "r1", "kind": "output", "stream": "stderr", "seq": 7}


def assert_known_code(error: ProtocolError) -> None:
    assert error.code in {code.value for code in protocol.ErrorCode}
    assert error.message


@given(st.lists(st.binary(max_size=64), max_size=5))
def test_arbitrary_frames_only_ever_raise_protocol_errors(frames: list[bytes]) -> None:
    try:
        protocol.decode(frames)
    except ProtocolError as error:
        assert_known_code(error)


HEADER_NAMES = ["id", "args", "env", "n", "now", "target", "stream", "seq", "code", "by"]
HEADER_NAMES += ["liveness_s", "window", "reason", "detail"]
HEADER_NAMES += ["events", "report_log", "count", "output", "run", "event", "dropped"]
header_values = st.recursive(
    st.none() | st.booleans() | st.integers() | finite | text,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(text, children, max_size=3),
    max_leaves=8,
)


@given(
    st.sampled_from([kind.value for kind in protocol.Kind]) | text,
    st.dictionaries(
        st.sampled_from(HEADER_NAMES),
        header_values,
    ),
    st.lists(st.binary(max_size=16), max_size=2),
)
def test_arbitrary_headers_only_ever_raise_protocol_errors(
    kind: str, fields: dict[str, Any], payload: list[bytes]
) -> None:
    header = json.dumps({"kind": kind, **fields}).encode()
    try:
        message = protocol.decode([protocol.MAGIC, header, *payload])
    except ProtocolError as error:
        assert_known_code(error)
    else:
        assert protocol.decode(protocol.encode(message)) == message


def test_optional_fields_stay_off_the_wire_so_older_peers_see_what_they_know() -> None:
    frames = protocol.encode(protocol.Exit("r", 0, False, 1.5))
    assert json.loads(frames[1]) == {
        "id": "r", "kind": "exit", "code": 0, "cancelled": False, "duration_s": 1.5
    }  # fmt: skip
    old_server_started = b'{"id": "r", "kind": "started", "pid": 5, "cwd": "/w"}'
    started = protocol.decode([protocol.MAGIC, old_server_started])
    assert started == protocol.Started("r", 5, "/w", None, None, None)


def test_an_unknown_end_reason_from_a_newer_server_keeps_its_detail() -> None:
    header = b'{"id": "r", "kind": "exit", "code": 130, "cancelled": true, "duration_s": 0,'
    header += b' "reason": "solar-flare", "detail": "ended by a solar flare"}'
    exit_ = protocol.decode([protocol.MAGIC, header])
    assert isinstance(exit_, protocol.Exit)
    assert exit_.reason is None
    assert exit_.detail == "ended by a solar flare"


@pytest.mark.parametrize(
    ("frames", "code"),
    [
        ([], "bad-frame"),
        ([b""], "bad-frame"),
        ([b"hello"], "bad-frame"),
        ([b"TB7", b"{}"], "version"),
        ([protocol.MAGIC], "bad-frame"),
        ([protocol.MAGIC, b"\xff\xfe"], "bad-json"),
        ([protocol.MAGIC, b"{not json"], "bad-json"),
        ([protocol.MAGIC, b"[1, 2]"], "bad-json"),
        ([protocol.MAGIC, b'{"id": "a", "kind": "ping", "x": NaN}'], "bad-json"),
        ([protocol.MAGIC, b'{"kind": "ping"}'], "bad-args"),
        ([protocol.MAGIC, b'{"id": 5, "kind": "ping"}'], "bad-args"),
        ([protocol.MAGIC, b'{"id": "a", "kind": "launch"}'], "unknown-kind"),
        ([protocol.MAGIC, b'{"id": "a", "kind": "run", "args": "-e py"}'], "bad-args"),
        ([protocol.MAGIC, b'{"id": "a", "kind": "run", "args": [1]}'], "bad-args"),
        ([protocol.MAGIC, b'{"id": "a", "kind": "run", "args": [], "env": {"A": 1}}'], "bad-args"),
        ([protocol.MAGIC, b'{"id": "a", "kind": "credit", "n": true}'], "bad-args"),
        ([protocol.MAGIC, b'{"id": "a", "kind": "credit", "n": 0}'], "bad-args"),
        ([protocol.MAGIC, b'{"id": "a", "kind": "ping"}', b"extra"], "bad-args"),
        (
            [protocol.MAGIC, b'{"id": "a", "kind": "output", "stream": "stdout", "seq": 0}'],
            "bad-args",
        ),
        ([protocol.MAGIC, b" " * (protocol.MAX_HEADER_BYTES + 1)], "too-large"),
    ],
)
def test_malformed_messages_are_named(frames: list[bytes], code: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        protocol.decode(frames)
    assert caught.value.code == code
    assert caught.value.message


def test_errors_name_the_request_when_they_can() -> None:
    with pytest.raises(ProtocolError) as caught:
        protocol.decode([protocol.MAGIC, b'{"id": "req-9", "kind": "quit", "now": "yes"}'])
    assert caught.value.request_id == "req-9"
    assert protocol.error_reply(caught.value) == protocol.Error(
        "req-9", protocol.ErrorCode.BAD_ARGS, caught.value.message
    )


def test_pure_layers_import_no_zmq_or_asyncio() -> None:
    probe = (
        "import sys, toxbridge.wire.protocol, toxbridge.config;"
        "print(sorted(m for m in ('zmq', 'asyncio', 'pygls', 'lsprotocol') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
