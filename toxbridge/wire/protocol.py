"""The wire protocol, version 1: message types and their encoding as ZMQ frames.

Pure: no sockets, no asyncio, no zmq. `encode(message) -> list[bytes]` and
`decode(frames) -> Message` are inverses; `decode` raises `ProtocolError` (and nothing
else) for any input that is not a valid message, naming the request id when it could
be read so the reply can carry it.

A message is `[MAGIC, header, *payload]`: MAGIC names the protocol version, the header
is a UTF-8 JSON object with at least `id` and `kind`, and the only payload is the raw
bytes of an `output` message. The ROUTER's identity frames are not part of a message.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, TypeAlias

from toxbridge.errors import ProtocolError
from toxbridge.wire.headers import HeaderFields

PROTOCOL_VERSION = 1
MAGIC = b"TB1"
MAX_HEADER_BYTES = 256 * 1024


class Kind(str, Enum):
    # requests, client -> server
    RUN = "run"
    CANCEL = "cancel"
    PING = "ping"
    QUIT = "quit"
    CREDIT = "credit"
    HEARTBEAT = "heartbeat"
    # replies, server -> client
    QUEUED = "queued"
    STARTED = "started"
    OUTPUT = "output"
    EXIT = "exit"
    ACK = "ack"
    PONG = "pong"
    ALIVE = "alive"
    ERROR = "error"


class ErrorCode(str, Enum):
    BAD_FRAME = "bad-frame"
    BAD_JSON = "bad-json"
    UNKNOWN_KIND = "unknown-kind"
    BAD_ARGS = "bad-args"
    TOO_LARGE = "too-large"
    VERSION = "version"
    BUSY = "busy"
    UNKNOWN_RUN = "unknown-run"
    INTERNAL = "internal"


class Stream(str, Enum):
    STDOUT = "stdout"
    STDERR = "stderr"


@dataclass(frozen=True, slots=True)
class Run:
    """Run tox with `args`; `credit` output messages may be sent before more is granted."""

    id: str
    args: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)
    color: bool = False
    credit: int = 0


@dataclass(frozen=True, slots=True)
class Cancel:
    """Cancel runs: `target` None = the sender's, "current" = the running one, else a run id."""

    id: str
    target: str | None = None


@dataclass(frozen=True, slots=True)
class Ping:
    id: str


@dataclass(frozen=True, slots=True)
class Quit:
    id: str
    now: bool = False


@dataclass(frozen=True, slots=True)
class Credit:
    """Grant `n` more output messages for the run `id`; also proves the client is alive."""

    id: str
    n: int


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """The client of run `id` is alive; the server answers with `alive`."""

    id: str


@dataclass(frozen=True, slots=True)
class Queued:
    id: str
    position: int


@dataclass(frozen=True, slots=True)
class Started:
    id: str
    pid: int
    cwd: str
    tox_version: str | None = None


@dataclass(frozen=True, slots=True)
class Output:
    id: str
    stream: Stream
    seq: int
    data: bytes


@dataclass(frozen=True, slots=True)
class Exit:
    id: str
    code: int
    cancelled: bool
    duration_s: float


@dataclass(frozen=True, slots=True)
class Ack:
    id: str
    cancelled: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Pong:
    id: str
    time: float
    version: str
    protocol: int
    running: tuple[Mapping[str, Any], ...]
    queued: int


@dataclass(frozen=True, slots=True)
class Alive:
    id: str
    state: str


@dataclass(frozen=True, slots=True)
class Error:
    id: str | None
    code: ErrorCode
    message: str


Request: TypeAlias = Run | Cancel | Ping | Quit | Credit | Heartbeat
Reply: TypeAlias = Queued | Started | Output | Exit | Ack | Pong | Alive | Error
Message: TypeAlias = Request | Reply


def encode(message: Message) -> list[bytes]:
    """The frames of `message`, ready for `send_multipart`."""
    header: dict[str, Any] = {"id": message.id, "kind": _KIND_OF[type(message)].value}
    payload: list[bytes] = []
    match message:
        case Run(args=args, env=env, color=color, credit=credit):
            header.update(args=list(args), env=dict(env), color=color, credit=credit)
        case Cancel(target=target):
            if target is not None:
                header["target"] = target
        case Quit(now=now):
            header["now"] = now
        case Credit(n=n):
            header["n"] = n
        case Queued(position=position):
            header["position"] = position
        case Started(pid=pid, cwd=cwd, tox_version=tox_version):
            header.update(pid=pid, cwd=cwd, tox_version=tox_version)
        case Output(stream=stream, seq=seq, data=data):
            header.update(stream=stream.value, seq=seq)
            payload.append(data)
        case Exit(code=code, cancelled=cancelled, duration_s=duration_s):
            header.update(code=code, cancelled=cancelled, duration_s=duration_s)
        case Ack(cancelled=cancelled):
            header["cancelled"] = list(cancelled)
        case Pong(time=time, version=version, protocol=protocol, running=running, queued=queued):
            header.update(
                time=time, version=version, protocol=protocol, running=list(running), queued=queued
            )
        case Alive(state=state):
            header["state"] = state
        case Error(code=code, message=text):
            header.update(code=code.value, message=text)
    return [MAGIC, json.dumps(header, separators=(",", ":")).encode(), *payload]


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
    if kind is Kind.OUTPUT:
        if len(payload) != 1:
            fields.fail(f"output needs exactly one payload frame, got {len(payload)}")
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


def _decode_error_code(fields: HeaderFields) -> ErrorCode:
    name = fields.string("code")
    try:
        return ErrorCode(name)
    except ValueError:
        return ErrorCode.INTERNAL


_Decoder: TypeAlias = Callable[[HeaderFields, str, list[bytes]], Message]

_DECODERS: dict[Kind, _Decoder] = {
    Kind.RUN: lambda f, i, p: Run(
        i,
        f.string_list("args"),
        f.string_map("env"),
        f.boolean("color", False),
        f.integer("credit", 0),
    ),
    Kind.CANCEL: lambda f, i, p: Cancel(i, f.optional_string("target")),
    Kind.PING: lambda f, i, p: Ping(i),
    Kind.QUIT: lambda f, i, p: Quit(i, f.boolean("now", False)),
    Kind.CREDIT: lambda f, i, p: Credit(i, f.integer("n", minimum=1)),
    Kind.HEARTBEAT: lambda f, i, p: Heartbeat(i),
    Kind.QUEUED: lambda f, i, p: Queued(i, f.integer("position")),
    Kind.STARTED: lambda f, i, p: Started(
        i, f.integer("pid"), f.string("cwd"), f.optional_string("tox_version")
    ),
    Kind.OUTPUT: lambda f, i, p: Output(i, _decode_stream(f), f.integer("seq"), p[0]),
    Kind.EXIT: lambda f, i, p: Exit(
        i, f.integer("code", minimum=-255), f.boolean("cancelled"), f.number("duration_s")
    ),
    Kind.ACK: lambda f, i, p: Ack(i, f.string_list("cancelled") if "cancelled" in f.header else ()),
    Kind.PONG: lambda f, i, p: Pong(
        i,
        f.number("time"),
        f.string("version"),
        f.integer("protocol"),
        f.object_list("running"),
        f.integer("queued"),
    ),
    Kind.ALIVE: lambda f, i, p: Alive(i, f.string("state")),
    Kind.ERROR: lambda f, i, p: Error(i or None, _decode_error_code(f), f.string("message")),
}

_KIND_OF: dict[type, Kind] = {
    Run: Kind.RUN,
    Cancel: Kind.CANCEL,
    Ping: Kind.PING,
    Quit: Kind.QUIT,
    Credit: Kind.CREDIT,
    Heartbeat: Kind.HEARTBEAT,
    Queued: Kind.QUEUED,
    Started: Kind.STARTED,
    Output: Kind.OUTPUT,
    Exit: Kind.EXIT,
    Ack: Kind.ACK,
    Pong: Kind.PONG,
    Alive: Kind.ALIVE,
    Error: Kind.ERROR,
}


def error_reply(error: ProtocolError) -> Error:
    """The `error` message that answers a request that raised `error`."""
    try:
        code = ErrorCode(error.code)
    except ValueError:
        code = ErrorCode.INTERNAL
    return Error(error.request_id or None, code, error.message)
