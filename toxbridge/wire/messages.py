"""The messages of the wire protocol, version 1: kinds, codes and frozen dataclasses. Pure.

`toxbridge.wire.protocol` encodes and decodes them and re-exports every name here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, TypeAlias

from toxbridge.reporter.events import BadRecord, Record, read_lines


class Kind(str, Enum):
    # requests, client -> server
    RUN = "run"
    CANCEL = "cancel"
    PING = "ping"
    QUIT = "quit"
    CREDIT = "credit"
    HEARTBEAT = "heartbeat"
    WATCH = "watch"
    PAUSE = "pause"
    RESUME = "resume"
    # replies, server -> client
    QUEUED = "queued"
    STARTED = "started"
    OUTPUT = "output"
    TEST = "test"
    WATCHED = "watched"
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

    `events`: send the run's test events as `test` messages (when the server can);
    `report_log`: those of reports then carry pytest-reportlog's data too.
    With `tty`, tox runs on a pseudo-terminal: all its output is `stdout`, and the
    client may send `stdin`, `resize` and `signal`. Without, pipes and no stdin.
    """

    id: str
    args: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)
    color: bool = False
    credit: int = 0
    events: bool = False
    report_log: bool = False
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
    """`window`: the most output credit the server honours, whatever the client grants;
    `events`: this run carries test events (`test` messages); `args`: tox's arguments, told
    to watchers only."""

    id: str
    pid: int
    cwd: str
    tox_version: str | None = None
    liveness_s: float | None = None
    window: int | None = None
    events: bool = False
    args: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class Output:
    id: str
    stream: Stream
    seq: int
    data: bytes


@dataclass(frozen=True, slots=True)
class Test:
    """`count` test event records (toxbridge.reporter.events format), one per line in `data`.

    Numbered by `seq` and sent against credit like `output`, in the same sequence."""

    id: str
    seq: int
    count: int
    data: bytes

    def records(self) -> list[Record | BadRecord]:
        return list(read_lines(self.data.splitlines()))


@dataclass(frozen=True, slots=True)
class Watch:
    """Watch every run on the server until cancelled (`cancel {target: id}`) or gone;
    `output`: their output too. Answered with `ack`, then `watched` messages."""

    id: str
    output: bool = False


GAP = "gap"  # a watched event: what a slow watcher lost
WATCHED_EVENTS = frozenset({"queued", "started", "output", "test", "exit", GAP})


@dataclass(frozen=True, slots=True)
class Watched:
    """What happened to run `run`, for the watch `id`: `event` is a reply kind (queued,
    started, test, output, exit) whose fields are in `header` and payload in `data`, or
    "gap": `dropped` messages about `run` were dropped for this watcher (it read too slowly).
    `wire.watched.unwrap` gives the run's own message back.
    """

    id: str
    run: str
    event: str
    header: Mapping[str, Any] = field(default_factory=dict)
    data: bytes | None = None
    dropped: int = 0


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
    Run
    | Cancel
    | Ping
    | Quit
    | Credit
    | Heartbeat
    | Pause
    | Resume
    | Watch
    | Stdin
    | Resize
    | Signal
)
Reply: TypeAlias = Queued | Started | Output | Test | Exit | Ack | Pong | Alive | Error | Watched
Message: TypeAlias = Request | Reply
# Messages that travel only against credit and are numbered by `seq`; `credit` counts them.
FlowControlled: TypeAlias = Output | Test
FLOW_CONTROLLED: tuple[type[Output] | type[Test], ...] = (Output, Test)
