"""Fuzzing a live `toxbridge serve`: hypothesis strategies for frames, and a batch driver.

Shared by `test_fuzz.py` (about 10,000 cases per run) and `benchmarks/bench_fuzz.py`
(many more). A case is one multipart message sent from a raw DEALER (or REQ) socket.
A batch is sent back to back; a sentinel ping behind it collects the replies (the
server answers one connection in order), every run the batch started is cancelled and
its `exit` awaited, and then the server must answer a ping within `PING_LIMIT_S` and
carry out a real run.

Runs that the fuzz makes valid get `-e exit --` in front of their arguments, so tox
only ever runs the sample project's `exit` env with fuzzed positional arguments
(never a fuzzed tox option such as an abbreviated `--devenv PATH`). Valid `quit`
requests are never sent: they are not malformed, they stop the server.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import zmq
from hypothesis import strategies as st

from toxbridge.config import Endpoint
from toxbridge.errors import ProtocolError
from toxbridge.net.client import Client
from toxbridge.server.policy import DEFAULT_ALLOWED_ENV
from toxbridge.wire import protocol

PING_LIMIT_S = 0.1
REPLY_TIMEOUT_MS = 15_000
SAFE_PREFIX = ("-e", "exit", "--")
REQUEST_KINDS = ("run", "cancel", "ping", "quit", "credit", "heartbeat", "pause", "resume")
REPLY_KINDS = ("queued", "started", "output", "exit", "ack", "pong", "alive", "error")
ALLOWED_NAMES = [
    name.rstrip("*") + ("X" if name.endswith("*") else "") for name in DEFAULT_ALLOWED_ENV
]

Frames = list[bytes]

# -- strategies ------------------------------------------------------------------------

huge_ints = st.one_of(
    st.integers(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from([2**63, -(2**63) - 1, 2**64, 10**300, -1, 0, 1024, 1025]),
)
odd_text = st.one_of(
    st.text(max_size=12),
    st.text(st.characters(codec="utf-8"), max_size=12),
    st.sampled_from(["", "\x00", "\ud800", "current", "../../etc/passwd", "$(id)", "é" * 300]),
)
scalars = st.one_of(
    st.none(), st.booleans(), huge_ints, st.floats(allow_nan=True, allow_infinity=True), odd_text
)
junk_json: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(odd_text, inner, max_size=4),
    max_leaves=10,
)
ids = st.one_of(
    odd_text.filter(bool),
    st.text(min_size=250, max_size=300),
    st.integers(),
    st.none(),
    st.lists(st.text(max_size=3), max_size=2),
)
arg_lists = st.lists(odd_text, max_size=6)
env_maps = st.one_of(
    st.dictionaries(st.sampled_from(ALLOWED_NAMES), odd_text, max_size=3),
    st.dictionaries(odd_text, odd_text, max_size=3),
)

WELL_TYPED: dict[str, dict[str, st.SearchStrategy[Any]]] = {
    "run": {"args": arg_lists, "env": env_maps, "color": st.booleans(), "credit": huge_ints},
    "cancel": {"target": st.one_of(st.none(), odd_text), "by": st.one_of(st.none(), odd_text)},
    "ping": {},
    "quit": {},  # `now` is always junk: a valid quit is not fuzz, it stops the server
    "credit": {"n": huge_ints},
    "heartbeat": {},
    "pause": {},
    "resume": {},
    "queued": {"position": huge_ints, "liveness_s": st.floats()},
    "started": {"pid": huge_ints, "cwd": odd_text, "window": huge_ints},
    "output": {"stream": st.sampled_from(["stdout", "stderr", "stdin"]), "seq": huge_ints},
    "exit": {
        "code": huge_ints,
        "cancelled": st.booleans(),
        "duration_s": st.floats(),
        "reason": odd_text,
        "detail": odd_text,
    },
    "ack": {"cancelled": st.lists(odd_text, max_size=2)},
    "pong": {"time": st.floats(), "version": odd_text, "running": st.lists(junk_json)},
    "alive": {"state": odd_text},
    "error": {"code": odd_text, "message": odd_text},
}


@st.composite
def headers(draw: st.DrawFn) -> dict[str, Any]:
    """A JSON object with a real kind, its fields well typed, junk, or missing, plus extras."""
    kind = draw(st.sampled_from([*REQUEST_KINDS, *REPLY_KINDS, "", "RUN", "run "]))
    header: dict[str, Any] = {"kind": kind} if draw(st.booleans()) or kind else {}
    if draw(st.integers(0, 9)):
        header["id"] = draw(ids)
    for name, good in WELL_TYPED.get(kind, {}).items():
        choice = draw(st.integers(0, 3))
        if choice == 0:
            continue
        header[name] = draw(good if choice < 3 else junk_json)
    if kind == "quit":
        header["now"] = draw(junk_json.filter(lambda value: not isinstance(value, bool)))
    header.update(draw(st.dictionaries(odd_text, junk_json, max_size=2)))
    return header


def _dump(value: Any) -> bytes:
    return json.dumps(value, allow_nan=True).encode("utf-8", "surrogatepass")


raw_headers = st.one_of(
    st.binary(max_size=64),
    st.text(max_size=32).map(str.encode),
    junk_json.map(_dump),
    st.builds(  # integers too long for Python to parse: 5,000 digits
        lambda kind: b'{"id":"big","kind":"%s","n":%s}' % (kind.encode(), b"9" * 5000),
        st.sampled_from(["credit", "run", "ping"]),
    ),
    st.integers(protocol.MAX_HEADER_BYTES - 8, protocol.MAX_HEADER_BYTES + 64).map(
        lambda size: b'{"id":"x","kind":"ping","pad":"' + b"p" * size + b'"}'
    ),
    st.just(b"[" * 100_000 + b"]" * 100_000),  # nesting beyond the recursion limit
)
magics = st.one_of(
    st.just(protocol.MAGIC),
    st.sampled_from([b"TB0", b"TB2", b"TB99999999999999999999", b"TB", b"tb1", b"TB1 ", b""]),
    st.binary(max_size=8),
)
extra_frames = st.lists(st.binary(max_size=256), max_size=3)


valid_runs = st.fixed_dictionaries(
    {
        "id": st.text(min_size=1, max_size=40),
        "kind": st.just("run"),
        "args": arg_lists,
        "env": st.dictionaries(st.sampled_from(ALLOWED_NAMES), odd_text, max_size=3),
        "color": st.booleans(),
        "credit": st.integers(0, 2000),
    }
)


@st.composite
def cases(draw: st.DrawFn) -> Frames:
    """One multipart message: mostly protocol-shaped, some of it anything at all."""
    shape = draw(st.integers(0, 19))
    if shape == 19:
        return [protocol.MAGIC, _dump(draw(valid_runs))]
    shape //= 2
    if shape == 0:
        return draw(st.lists(st.binary(max_size=128), min_size=1, max_size=5))
    magic = protocol.MAGIC if shape > 2 else draw(magics)
    header = _dump(draw(headers())) if shape > 4 else draw(raw_headers | headers().map(_dump))
    frames = [magic, header]
    if draw(st.integers(0, 4)) == 0:
        frames += draw(extra_frames)
    if draw(st.integers(0, 19)) == 0:
        frames.insert(0, b"")  # looks like a REQ envelope's delimiter
    return frames


# -- the driver ------------------------------------------------------------------------


@dataclass
class Stats:
    cases: int = 0
    batches: int = 0
    runs_started: int = 0
    replies: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    ping_after_batch_s: list[float] = field(default_factory=list)
    real_run_s: list[float] = field(default_factory=list)
    anomalies: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        pings = self.ping_after_batch_s
        return {
            "cases": self.cases,
            "batches": self.batches,
            "runs_started": self.runs_started,
            "anomalies": len(self.anomalies),
            "first_anomalies": self.anomalies[:5],
            "errors_by_code": dict(sorted(self.errors.items())),
            "replies_by_kind": dict(sorted(self.replies.items())),
            "ping_after_batch_ms": {
                "max": round(max(pings) * 1000, 2) if pings else None,
                "median": round(statistics.median(pings) * 1000, 2) if pings else None,
            },
        }


class ServerGone(AssertionError):
    """The server stopped answering: the fuzz found a way to kill or wedge it."""


def make_safe(frames: Frames) -> Frames | None:
    """The frames to send, with a valid run confined to the `exit` env; None to skip."""
    body = frames[1:] if len(frames) > 2 and frames[0] == b"" else frames
    try:
        message = protocol.decode(body)
    except ProtocolError:
        return frames
    if isinstance(message, protocol.Quit):
        return None
    if isinstance(message, protocol.Run):
        header = json.loads(body[1])
        header["args"] = [*SAFE_PREFIX, *header["args"]]
        return [*frames[: len(frames) - len(body)], body[0], _dump(header), *body[2:]]
    return frames


class Fuzzer:
    """Raw sockets on one server; `batch()` sends cases and checks the server afterwards."""

    def __init__(
        self,
        endpoint: str,
        context: zmq.Context[zmq.Socket[bytes]],
        batch_size: int = 500,
        *,
        strict: bool = True,
        check_alive: Callable[[], None] = lambda: None,
    ) -> None:
        self.endpoint = endpoint
        self.strict = strict
        self.check_alive = check_alive
        self.context = context
        self.batch_size = batch_size
        self.stats = Stats()
        self.dealer = self._socket(zmq.DEALER)
        self._sentinels = 0
        self._dealer_cases: list[Frames] = []
        self._req_cases: list[Frames] = []

    def feed(self, dealer_cases: Sequence[Frames], req_cases: Sequence[Frames] = ()) -> None:
        """Collect cases; a full batch is sent and followed by the checks and a real run."""
        self._dealer_cases += dealer_cases
        self._req_cases += req_cases
        if len(self._dealer_cases) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        if self._dealer_cases or self._req_cases:
            dealer, req = self._dealer_cases, self._req_cases
            self._dealer_cases, self._req_cases = [], []
            self.batch(dealer, req)
            self.real_run()

    def _socket(self, kind: int) -> zmq.Socket[bytes]:
        socket = self.context.socket(kind)
        socket.setsockopt(zmq.LINGER, 0)
        socket.setsockopt(zmq.SNDTIMEO, REPLY_TIMEOUT_MS)
        socket.connect(self.endpoint)
        return socket

    def close(self) -> None:
        self.dealer.close()

    def _receive(self, socket: zmq.Socket[bytes], waiting_for: str) -> protocol.Message | None:
        deadline = time.monotonic() + REPLY_TIMEOUT_MS / 1000
        while not socket.poll(100):
            self.check_alive()  # a dead server fails the wait at once, with its log
            if time.monotonic() > deadline:
                raise ServerGone(f"no reply within {REPLY_TIMEOUT_MS} ms ({waiting_for})")
        frames = socket.recv_multipart()
        if len(frames) > 2 and frames[0] == b"":
            frames = frames[1:]  # the reply to a case that looked like a REQ envelope
        try:
            message = protocol.decode(frames)
        except ProtocolError as error:
            self.stats.anomalies.append(f"malformed reply {frames[:2]!r}: {error}")
            return None
        self.stats.replies[type(message).__name__.lower()] += 1
        if isinstance(message, protocol.Error):
            self.stats.errors[message.code.value] += 1
        if isinstance(message, protocol.Started):
            self.stats.runs_started += 1
        return message

    def _sentinel(self) -> str:
        self._sentinels += 1
        return f"sentinel-{self._sentinels}"

    def send_dealer(self, batch: Sequence[Frames]) -> None:
        """Send every case, then drain replies up to a sentinel pong; end every run."""
        for frames in batch:
            self.dealer.send_multipart(frames)
        sentinel = self._sentinel()
        self.dealer.send_multipart(protocol.encode(protocol.Ping(sentinel)))
        while not self._is_pong(self._receive(self.dealer, sentinel), sentinel):
            pass
        cancel = self._sentinel()
        self.dealer.send_multipart(protocol.encode(protocol.Cancel(cancel)))
        # a queued run's exit comes before the ack, the running one's after it
        ended: Counter[str] = Counter()
        while True:
            message = self._receive(self.dealer, f"ack of {cancel}")
            if isinstance(message, protocol.Exit):
                ended[message.id] += 1
            if isinstance(message, protocol.Ack) and message.id == cancel:
                pending = Counter(message.cancelled) - ended
                break
        while +pending:
            message = self._receive(self.dealer, f"exit of cancelled runs {sorted(+pending)}")
            if isinstance(message, protocol.Exit) and pending[message.id] > 0:
                pending[message.id] -= 1

    def send_req(self, batch: Sequence[Frames]) -> None:
        """Strict request/reply through a REQ socket: every case gets exactly one answer."""
        socket = self._socket(zmq.REQ)
        try:
            for frames in batch:
                socket.send_multipart(frames)
                self._receive(socket, "a REQ reply")
        finally:
            socket.close()

    @staticmethod
    def _is_pong(message: protocol.Message | None, request_id: str) -> bool:
        return isinstance(message, protocol.Pong) and message.id == request_id

    def ping_latency(self) -> float:
        sentinel = self._sentinel()
        started = time.perf_counter()
        self.dealer.send_multipart(protocol.encode(protocol.Ping(sentinel)))
        while not self._is_pong(self._receive(self.dealer, sentinel), sentinel):
            pass
        return time.perf_counter() - started

    def batch(self, dealer_cases: Sequence[Frames], req_cases: Sequence[Frames] = ()) -> None:
        dealer = [safe for frames in dealer_cases if (safe := make_safe(frames)) is not None]
        req = [
            frames
            for frames in req_cases
            if make_safe(frames) is frames and not _decodes_as_run(frames)
        ]
        self.send_dealer(dealer)
        if req:
            self.send_req(req)
        self.stats.cases += len(dealer) + len(req)
        self.stats.batches += 1
        if self.strict and self.stats.anomalies:
            raise AssertionError("\n".join(self.stats.anomalies))
        # the best of three: one ping can meet a scheduler hiccup on a busy shared machine
        latency = min(self.ping_latency() for _ in range(3))
        self.stats.ping_after_batch_s.append(latency)
        if latency > PING_LIMIT_S:
            raise AssertionError(f"ping took {latency * 1000:.1f} ms after batch")

    def real_run(self) -> None:
        started = time.perf_counter()
        code, output = asyncio.run(_real_run(Endpoint(self.endpoint)))
        self.stats.real_run_s.append(time.perf_counter() - started)
        assert code == 3, output
        assert b"exit" in output


def _decodes_as_run(frames: Frames) -> bool:
    body = frames[1:] if len(frames) > 2 and frames[0] == b"" else frames
    try:
        return isinstance(protocol.decode(body), protocol.Run)
    except ProtocolError:
        return False


async def _real_run(endpoint: Endpoint) -> tuple[int, bytes]:
    output = b""
    async with Client(endpoint, timeout=20) as client, client.run(["-e", "exit", "--", "3"]) as run:
        async for event in run:
            if isinstance(event, protocol.Output):
                output += event.data
    assert run.result is not None
    return run.result.code, output
