"""Decoding the fields of a tty run and of its terminal requests (`stdin`, `resize`,
`signal`). Pure."""

from __future__ import annotations

from toxbridge.errors import ProtocolError
from toxbridge.wire.headers import HeaderFields
from toxbridge.wire.messages import MAX_STDIN_BYTES, ErrorCode, Stdin, TerminalSignal, Tty

MAX_TTY_SIDE = 10_000  # rows or columns
MAX_TERM_CHARS = 64


def decode_tty(fields: HeaderFields) -> Tty | None:
    raw = fields.header.get("tty")
    if raw is None:
        return None
    if not isinstance(raw, dict):
        fields.fail("field 'tty' must be an object {rows, cols, term?}")
    tty = HeaderFields({"kind": fields.kind, **raw}, fields.request_id)
    rows, cols = side(tty, "rows"), side(tty, "cols")
    term = tty.optional_string("term")
    if term is not None and not (0 < len(term) <= MAX_TERM_CHARS and term.isprintable()):
        fields.fail(f"field 'tty.term' must be 1 to {MAX_TERM_CHARS} printable characters")
    return Tty(rows, cols, term)


def side(fields: HeaderFields, name: str) -> int:
    value = fields.integer(name, minimum=1)
    if value > MAX_TTY_SIDE:
        fields.fail(f"field {name!r} must be at most {MAX_TTY_SIDE}")
    return value


def decode_stdin(fields: HeaderFields, request_id: str, payload: list[bytes]) -> Stdin:
    if len(payload[0]) > MAX_STDIN_BYTES:
        raise ProtocolError(
            ErrorCode.TOO_LARGE.value,
            f"stdin of {len(payload[0])} bytes exceeds {MAX_STDIN_BYTES} per message",
            request_id,
        )
    return Stdin(request_id, payload[0])


def decode_signal(fields: HeaderFields) -> TerminalSignal:
    name = fields.string("name")
    try:
        return TerminalSignal(name)
    except ValueError:
        allowed = ", ".join(member.value for member in TerminalSignal)
        fields.fail(f"field 'name' must be one of {allowed}, got {name!r}")
        raise  # unreachable: fail() raised
