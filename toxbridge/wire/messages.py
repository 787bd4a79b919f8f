"""The messages of the wire protocol, version 1: kinds, codes and frozen dataclasses. Pure.

`toxbridge.wire.protocol` encodes and decodes them and re-exports every name here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, TypeAlias


class Kind(str, Enum):
    # requests, client -> server
    RUN = "run"
    CANCEL = "cancel"
    PING = "ping"
    QUIT = "quit"
    CREDIT = "credit"
    HEARTBEAT = "heartbeat"
    PAUSE = "pause"
    RESUME = "resume"
    # replies, server -> client
    QUEUED = "queued"
    STARTED = "started"
    OUTPUT = "output"
    EXIT = "exit"
    ACK = "ack"
    PONG = "pong"
    ALIVE = "alive"
    ERROR = "error"
    # terminal requests (a run with `tty`), client -> server
    STDIN = "stdin"
    RESIZE = "resize"
    SIGNAL = "signal"


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
class Tty:
    """A terminal of `rows` x `cols` for tox (stdin, stdout and stderr), `term` its TERM."""

    rows: int
    cols: int
    term: str | None = None


@dataclass(frozen=True, slots=True)
class Run:
    """Run tox with `args`; `credit` output messages may be sent before more is granted.

    With `tty`, tox runs on a pseudo-terminal: all its output is `stdout`, and the
    client may send `stdin`, `resize` and `signal`. Without, pipes and no stdin."""

    id: str
    args: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)
    color: bool = False
    credit: int = 0
    tty: Tty | None = None


@dataclass(frozen=True, slots=True)
class Cancel:
    """Cancel runs: `target` None = the sender's, "current" = the running one, else a run id.

    `by` names who asks (such as "toxbridge cancel"), for the `exit` of another's run.
    """

    id: str
    target: str | None = None
    by: str | None = None


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
class Pause:
    """The client of run `id` is about to stop on purpose (^Z): keep the run while its
    connection lasts, whatever the liveness. Answered with `alive {state: "paused"}`."""

    id: str


@dataclass(frozen=True, slots=True)
class Resume:
    """The client of run `id` goes on after a `pause`; answered with `alive`."""

    id: str


@dataclass(frozen=True, slots=True)
class Queued:
    """`liveness_s`: the server cancels a run whose client is silent this long."""

    id: str
    position: int
    liveness_s: float | None = None


@dataclass(frozen=True, slots=True)
class Started:
    """`window`: the most output credit the server honours, whatever the client grants."""

    id: str
    pid: int
    cwd: str
    tox_version: str | None = None
    liveness_s: float | None = None
    window: int | None = None


@dataclass(frozen=True, slots=True)
class Output:
    id: str
    stream: Stream
    seq: int
    data: bytes


class EndReason(str, Enum):
    """Who or what ended a run that its own client did not end."""

    CANCELLED = "cancelled"  # a cancel request from another client
    SHUTDOWN = "shutdown"  # `quit --now`, SIGTERM or SIGINT to the server
    LIVENESS = "liveness"  # the client was silent for the server's liveness
    DISCONNECTED = "disconnected"  # the client's connection went away
    LIMIT = "limit"  # a server limit, such as a client that takes no output


@dataclass(frozen=True, slots=True)
class Exit:
    """`reason` and `detail` (one sentence) say who ended the run, when not its client."""

    id: str
    code: int
    cancelled: bool
    duration_s: float
    reason: EndReason | None = None
    detail: str | None = None


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
    liveness_s: float | None = None


@dataclass(frozen=True, slots=True)
class Alive:
    id: str
    state: str


@dataclass(frozen=True, slots=True)
class Error:
    id: str | None
    code: ErrorCode
    message: str


class TerminalSignal(str, Enum):
    """What a `signal` request may deliver to a tty run (see `server.terminal`)."""

    SIGINT = "SIGINT"  # ^C: the program tox runs (pytest, pdb), or tox when it runs none
    SIGQUIT = "SIGQUIT"  # ^\\: the terminal's foreground process group
    SIGTSTP = "SIGTSTP"  # ^Z: stop everything in tox's session
    SIGCONT = "SIGCONT"  # `fg`: continue it


MAX_STDIN_BYTES = 64 * 1024  # one `stdin` message; more is `too-large`


@dataclass(frozen=True, slots=True)
class Stdin:
    """Bytes typed into the terminal of tty run `id` (one payload frame)."""

    id: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Resize:
    """The terminal of tty run `id` is now `rows` x `cols` (the remote gets SIGWINCH)."""

    id: str
    rows: int
    cols: int


@dataclass(frozen=True, slots=True)
class Signal:
    """Deliver `name` to tty run `id` as its terminal would."""

    id: str
    name: TerminalSignal


Request: TypeAlias = (
    Run | Cancel | Ping | Quit | Credit | Heartbeat | Pause | Resume | Stdin | Resize | Signal
)
Reply: TypeAlias = Queued | Started | Output | Exit | Ack | Pong | Alive | Error
Message: TypeAlias = Request | Reply
# Messages that travel only against credit and are numbered by `seq`; `credit` counts them.
FlowControlled: TypeAlias = Output
FLOW_CONTROLLED: tuple[type[FlowControlled], ...] = (Output,)
