"""The terminal's part of the wire protocol: round trips and rejections. Pure."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from toxbridge.errors import ProtocolError
from toxbridge.wire import protocol
from toxbridge.wire.terminal import MAX_TTY_SIDE

ids = st.text(min_size=1, max_size=40)
sides = st.integers(1, MAX_TTY_SIDE)
terms = st.none() | st.text(
    st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=64
)
ttys = st.builds(protocol.Tty, sides, sides, terms)
messages = st.one_of(
    st.builds(
        protocol.Run,
        ids,
        st.lists(st.text(max_size=10), max_size=3).map(tuple),
        st.just({}),
        st.booleans(),
        st.integers(0, 100),
        events=st.booleans(),
        tty=st.none() | ttys,
    ),
    st.builds(protocol.Stdin, ids, st.binary(max_size=256)),
    st.builds(protocol.Resize, ids, sides, sides),
    st.builds(protocol.Signal, ids, st.sampled_from(protocol.TerminalSignal)),
)


@given(messages)
def test_round_trip(message: protocol.Message) -> None:
    assert protocol.decode(protocol.encode(message)) == message


def test_stdin_bytes_travel_raw_in_their_own_frame() -> None:
    frames = protocol.encode(protocol.Stdin("r", b"\x03p x\r"))
    assert frames[2] == b"\x03p x\r"
    assert json.loads(frames[1]) == {"id": "r", "kind": "stdin"}


def test_a_run_without_tty_has_no_tty_field_for_older_servers() -> None:
    assert "tty" not in json.loads(protocol.encode(protocol.Run("r", ()))[1])


def decode(header: dict[str, Any], *payload: bytes) -> protocol.Message:
    return protocol.decode([protocol.MAGIC, json.dumps(header).encode(), *payload])


@pytest.mark.parametrize(
    ("header", "payload", "code"),
    [
        ({"id": "r", "kind": "stdin"}, (), "bad-args"),
        ({"id": "r", "kind": "stdin"}, (b"a", b"b"), "bad-args"),
        ({"id": "r", "kind": "stdin"}, (b"x" * (protocol.MAX_STDIN_BYTES + 1),), "too-large"),
        ({"id": "r", "kind": "resize", "rows": 0, "cols": 80}, (), "bad-args"),
        ({"id": "r", "kind": "resize", "rows": 24, "cols": 10**6}, (), "bad-args"),
        ({"id": "r", "kind": "signal", "name": "SIGKILL"}, (), "bad-args"),
        ({"id": "r", "kind": "signal"}, (), "bad-args"),
        ({"id": "r", "kind": "run", "args": [], "tty": [24, 80]}, (), "bad-args"),
        ({"id": "r", "kind": "run", "args": [], "tty": {"rows": 24}}, (), "bad-args"),
        (
            {"id": "r", "kind": "run", "args": [], "tty": {"rows": 2, "cols": 2, "term": "a\nb"}},
            (),
            "bad-args",
        ),
        ({"id": "r", "kind": "resize", "rows": 24, "cols": 80}, (b"x",), "bad-args"),
    ],
)
def test_malformed_terminal_requests_are_refused_naming_the_run(
    header: dict[str, Any], payload: tuple[bytes, ...], code: str
) -> None:
    with pytest.raises(ProtocolError) as raised:
        decode(header, *payload)
    assert raised.value.code == code
    assert raised.value.request_id == "r"
