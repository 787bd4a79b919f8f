"""The wire protocol, version 1: messages (`wire.messages`) and their encoding as ZMQ frames.

Pure: no sockets, no asyncio, no zmq. `encode(message) -> list[bytes]` and
`decode(frames) -> Message` are inverses; `decode` raises `ProtocolError` (and nothing
else) for any input that is not a valid message, naming the request id when it could
be read so the reply can carry it.

A message is `[MAGIC, header, *payload]`: MAGIC names the protocol version, the header
is a UTF-8 JSON object with at least `id` and `kind`, and the only payloads are the raw
bytes of an `output` message and the record lines of a `test` message (a `watched` one
carries either). The ROUTER's identity frames are not part of a message.

Versioning: fields are only ever added. A new request field defaults to the old
behaviour (`run.events` false: no `test` messages to clients that do not ask), a reply
field a client does not know is ignored, and a new reply kind is sent only to clients
that asked for it; an incompatible change would change MAGIC.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeAlias

from toxbridge.errors import ProtocolError
from toxbridge.wire import watched as _watched  # used at call time: it imports this module
from toxbridge.wire.headers import HeaderFields
from toxbridge.wire.messages import (
    FLOW_CONTROLLED,
    GAP,
    MAX_STDIN_BYTES,
    WATCHED_EVENTS,
    Ack,
    Alive,
    Cancel,
    Credit,
    EndReason,
    Error,
    ErrorCode,
    Exit,
    FlowControlled,
    Heartbeat,
    Kind,
    Message,
    Output,
    Pause,
    Ping,
    Pong,
    Queued,
    Quit,
    Reply,
    Request,
    Resize,
    Resume,
    Run,
    Signal,
    Started,
    Stdin,
    Stream,
    TerminalSignal,
    Test,
    Tty,
    Watch,
    Watched,
)
from toxbridge.wire.terminal import decode_signal, decode_stdin, decode_tty, side

__all__ = [
    "FLOW_CONTROLLED",
    "GAP",
    "MAGIC",
    "MAX_HEADER_BYTES",
    "MAX_STDIN_BYTES",
    "PROTOCOL_VERSION",
    "WATCHED_EVENTS",
    "Ack",
    "Alive",
    "Cancel",
    "Credit",
    "EndReason",
    "Error",
    "ErrorCode",
    "Exit",
    "FlowControlled",
    "Heartbeat",
    "Kind",
    "Message",
    "Output",
    "Pause",
    "Ping",
    "Pong",
    "Queued",
    "Quit",
    "Reply",
    "Request",
    "Resize",
    "Resume",
    "Run",
    "Signal",
    "Started",
    "Stdin",
    "Stream",
    "TerminalSignal",
    "Test",
    "Tty",
    "Watch",
    "Watched",
    "decode",
    "encode",
    "error_reply",
]

PROTOCOL_VERSION = 1
MAGIC = b"TB1"
MAX_HEADER_BYTES = 256 * 1024


def encode(message: Message) -> list[bytes]:
    """The frames of `message`, ready for `send_multipart`."""
    header: dict[str, Any] = {"id": message.id, "kind": _KIND_OF[type(message)].value}
    payload: list[bytes] = []
    match message:
        case Run(args=args, env=env, color=color, credit=credit):
            header.update(args=list(args), env=dict(env), color=color, credit=credit)
            if message.events or message.report_log:  # an older server sees what it knows
                header.update(events=message.events, report_log=message.report_log)
            if message.tty is not None:
                tty = {"rows": message.tty.rows, "cols": message.tty.cols}
                _put_optional(tty, term=message.tty.term)
                header["tty"] = tty
        case Watch(output=output):
            header["output"] = output
        case Watched(run=run, event=event, header=fields, data=data):
            header.update({k: v for k, v in fields.items() if k not in ("id", "kind")})
            header.update(run=run, event=event)
            if event == GAP or message.dropped:
                header["dropped"] = message.dropped
            if data is not None:
                payload.append(data)
        case Test(seq=seq, count=count, data=data):
            header.update(seq=seq, count=count)
            payload.append(data)
        case Cancel(target=target, by=by):
            _put_optional(header, target=target, by=by)
        case Quit(now=now):
            header["now"] = now
        case Credit(n=n):
            header["n"] = n
        case Queued(position=position, liveness_s=liveness_s):
            header["position"] = position
            _put_optional(header, liveness_s=liveness_s)
        case Started(pid=pid, cwd=cwd, tox_version=tox_version):
            header.update(pid=pid, cwd=cwd, tox_version=tox_version, events=message.events)
            told = list(message.args) if message.args is not None else None
            _put_optional(header, liveness_s=message.liveness_s, window=message.window, args=told)
        case Output(stream=stream, seq=seq, data=data):
            header.update(stream=stream.value, seq=seq)
            payload.append(data)
        case Exit(code=code, cancelled=cancelled, duration_s=duration_s, reason=reason):
            header.update(code=code, cancelled=cancelled, duration_s=duration_s)
            _put_optional(header, reason=reason.value if reason else None, detail=message.detail)
        case Ack(cancelled=cancelled):
            header["cancelled"] = list(cancelled)
        case Pong(time=time, version=version, protocol=protocol, running=running, queued=queued):
            header.update(
                time=time, version=version, protocol=protocol, running=list(running), queued=queued
            )
            _put_optional(header, liveness_s=message.liveness_s)
        case Alive(state=state):
            header["state"] = state
        case Error(code=code, message=text):
            header.update(code=code.value, message=text)
        case Stdin(data=data):
            payload.append(data)
        case Resize(rows=rows, cols=cols):
            header.update(rows=rows, cols=cols)
        case Signal(name=name):
            header["name"] = name.value
    return [MAGIC, json.dumps(header, separators=(",", ":")).encode(), *payload]


def _put_optional(header: dict[str, Any], **fields: Any) -> None:
    """Optional fields go on the wire only when set, so older peers see what they know."""
    header.update((name, value) for name, value in fields.items() if value is not None)


def decode(frames: Sequence[bytes]) -> Message:
    """The message in `frames` (identity frames already removed)."""
    if not frames:
        raise ProtocolError(ErrorCode.BAD_FRAME.value, "empty message")
    magic = bytes(frames[0])
    if magic != MAGIC:
        if magic.startswith(b"TB") and magic[2:].isdigit():
            raise ProtocolError(
                ErrorCode.VERSION.value,
                f"protocol {magic[2:].decode()} is not spoken here; this peer speaks "
                f"protocol {PROTOCOL_VERSION}: upgrade the older side",
            )
        raise ProtocolError(
            ErrorCode.BAD_FRAME.value, f"first frame must be {MAGIC!r}, got {magic[:16]!r}"
        )
    if len(frames) < 2:
        raise ProtocolError(ErrorCode.BAD_FRAME.value, "missing header frame")
    header = _parse_header(bytes(frames[1]))
    kind_name = header.get("kind")
    if kind_name == Kind.ERROR.value and header.get("id") is None:
        # errors about requests whose id could not be read carry no id
        request_id = ""
    else:
        request_id = _request_id(header)
    try:
        kind = Kind(kind_name)
    except ValueError:
        raise ProtocolError(
            ErrorCode.UNKNOWN_KIND.value, f"unknown message kind {kind_name!r}", request_id
        ) from None
    fields = HeaderFields(header, request_id)
    payload = [bytes(frame) for frame in frames[2:]]
    if kind in _WITH_PAYLOAD:
        if len(payload) != 1:
            fields.fail(f"{kind.value} needs exactly one payload frame, got {len(payload)}")
    elif kind is Kind.WATCHED:
        if len(payload) > 1:
            fields.fail(f"watched takes at most one payload frame, got {len(payload)}")
    elif payload:
        fields.fail(f"{kind.value} takes no payload frames, got {len(payload)}")
    return _DECODERS[kind](fields, request_id, payload)


def _parse_header(raw: bytes) -> dict[str, Any]:
    if len(raw) > MAX_HEADER_BYTES:
        raise ProtocolError(
            ErrorCode.TOO_LARGE.value, f"header of {len(raw)} bytes exceeds {MAX_HEADER_BYTES}"
        )
    try:
        header = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise ProtocolError(ErrorCode.BAD_JSON.value, f"header is not JSON: {error}") from None
    if not isinstance(header, dict):
        raise ProtocolError(
            ErrorCode.BAD_JSON.value, f"header must be a JSON object, got {type(header).__name__}"
        )
    return header


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def _request_id(header: Mapping[str, Any]) -> str:
    request_id = header.get("id")
    if not isinstance(request_id, str) or not request_id:
        raise ProtocolError(ErrorCode.BAD_ARGS.value, "header needs a non-empty string 'id'")
    if len(request_id) > 256:
        raise ProtocolError(ErrorCode.BAD_ARGS.value, "'id' is longer than 256 characters")
    return request_id


def _decode_stream(fields: HeaderFields) -> Stream:
    name = fields.string("stream")
    try:
        return Stream(name)
    except ValueError:
        fields.fail(f"field 'stream' must be 'stdout' or 'stderr', got {name!r}")
        raise  # unreachable: fail() raised


def _decode_reason(fields: HeaderFields) -> EndReason | None:
    name = fields.optional_string("reason")
    if name is None:
        return None
    try:
        return EndReason(name)
    except ValueError:
        return None  # a newer server's reason: the detail still says it


def _decode_error_code(fields: HeaderFields) -> ErrorCode:
    name = fields.string("code")
    try:
        return ErrorCode(name)
    except ValueError:
        return ErrorCode.INTERNAL


_WITH_PAYLOAD = frozenset((Kind.OUTPUT, Kind.TEST, Kind.STDIN))
_Decoder: TypeAlias = Callable[[HeaderFields, str, list[bytes]], Message]

_DECODERS: dict[Kind, _Decoder] = {
    Kind.RUN: lambda f, i, p: Run(
        i,
        f.string_list("args"),
        f.string_map("env"),
        f.boolean("color", False),
        f.integer("credit", 0),
        f.boolean("events", False),
        f.boolean("report_log", False),
        decode_tty(f),
    ),
    Kind.WATCH: lambda f, i, p: Watch(i, f.boolean("output", False)),
    Kind.WATCHED: lambda f, i, p: _watched.decode_watched(f, i, p),
    Kind.TEST: lambda f, i, p: Test(i, f.integer("seq"), f.integer("count"), p[0]),
    Kind.CANCEL: lambda f, i, p: Cancel(i, f.optional_string("target"), _by(f)),
    Kind.PING: lambda f, i, p: Ping(i),
    Kind.QUIT: lambda f, i, p: Quit(i, f.boolean("now", False)),
    Kind.CREDIT: lambda f, i, p: Credit(i, f.integer("n", minimum=1)),
    Kind.HEARTBEAT: lambda f, i, p: Heartbeat(i),
    Kind.PAUSE: lambda f, i, p: Pause(i),
    Kind.RESUME: lambda f, i, p: Resume(i),
    Kind.QUEUED: lambda f, i, p: Queued(i, f.integer("position"), f.optional_number("liveness_s")),
    Kind.STARTED: lambda f, i, p: Started(
        i,
        f.integer("pid"),
        f.string("cwd"),
        f.optional_string("tox_version"),
        f.optional_number("liveness_s"),
        f.optional_integer("window"),
        f.boolean("events", False),
        f.string_list("args") if "args" in f.header else None,
    ),
    Kind.OUTPUT: lambda f, i, p: Output(i, _decode_stream(f), f.integer("seq"), p[0]),
    Kind.EXIT: lambda f, i, p: Exit(
        i,
        f.integer("code", minimum=-255),
        f.boolean("cancelled"),
        f.number("duration_s"),
        _decode_reason(f),
        f.optional_string("detail"),
    ),
    Kind.ACK: lambda f, i, p: Ack(i, f.string_list("cancelled") if "cancelled" in f.header else ()),
    Kind.PONG: lambda f, i, p: Pong(
        i,
        f.number("time"),
        f.string("version"),
        f.integer("protocol"),
        f.object_list("running"),
        f.integer("queued"),
        f.optional_number("liveness_s"),
    ),
    Kind.ALIVE: lambda f, i, p: Alive(i, f.string("state")),
    Kind.ERROR: lambda f, i, p: Error(i or None, _decode_error_code(f), f.string("message")),
    Kind.STDIN: decode_stdin,
    Kind.RESIZE: lambda f, i, p: Resize(i, side(f, "rows"), side(f, "cols")),
    Kind.SIGNAL: lambda f, i, p: Signal(i, decode_signal(f)),
}

_KIND_OF: dict[type, Kind] = {
    Run: Kind.RUN,
    Cancel: Kind.CANCEL,
    Ping: Kind.PING,
    Quit: Kind.QUIT,
    Credit: Kind.CREDIT,
    Heartbeat: Kind.HEARTBEAT,
    Pause: Kind.PAUSE,
    Resume: Kind.RESUME,
    Queued: Kind.QUEUED,
    Started: Kind.STARTED,
    Output: Kind.OUTPUT,
    Test: Kind.TEST,
    Watch: Kind.WATCH,
    Watched: Kind.WATCHED,
    Exit: Kind.EXIT,
    Ack: Kind.ACK,
    Pong: Kind.PONG,
    Alive: Kind.ALIVE,
    Error: Kind.ERROR,
    Stdin: Kind.STDIN,
    Resize: Kind.RESIZE,
    Signal: Kind.SIGNAL,
}


MAX_BY_CHARS = 200


def _by(fields: HeaderFields) -> str | None:
    by = fields.optional_string("by")
    if by is not None and len(by) > MAX_BY_CHARS:
        fields.fail(f"field 'by' is longer than {MAX_BY_CHARS} characters")
    return by


def error_reply(error: ProtocolError) -> Error:
    """The `error` message that answers a request that raised `error`."""
    try:
        code = ErrorCode(error.code)
    except ValueError:
        code = ErrorCode.INTERNAL
    return Error(error.request_id or None, code, error.message)
