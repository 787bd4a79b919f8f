"""Soak: many back-to-back CLI runs against one server, some cancelled, some killed.

Shared by `test_soak.py` (a fast subset) and `benchmarks/bench_soak.py` (500 runs).
Every run is a real `toxbridge run` subprocess. Normal runs must exit with tox's
status; cancelled runs (SIGINT to the client, or `toxbridge cancel` from another
process) must end with tox's non-zero status and leave no process of the sample tree;
runs whose client is SIGKILLed mid-run must have their tree killed by the server once
it notices the client is gone. The server's open fds, RSS and descendant processes
are sampled after a warm-up and at the end.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import RunningServer, toxbridge

LIVENESS_S = 2.0
SIGINT_GRACE_S = 0.5
SIGTERM_GRACE_S = 0.5
SERVER_OPTIONS = (
    "--liveness",
    str(LIVENESS_S),
    "--sigint-grace",
    str(SIGINT_GRACE_S),
    "--sigterm-grace",
    str(SIGTERM_GRACE_S),
)
# the server notices a dead client within its liveness (plus one watchdog tick), then stops
# the tree in at most both grace periods; the rest is slack for a busy shared machine
TREE_GONE_S = LIVENESS_S + 1 + SIGINT_GRACE_S + SIGTERM_GRACE_S + 15
RUN_TIMEOUT_S = 60.0


@dataclass(frozen=True, slots=True)
class Sample:
    fds: int
    rss_kib: int
    descendants: frozenset[int]


@dataclass
class Report:
    runs: Counter[str] = field(default_factory=Counter)
    durations: dict[str, list[float]] = field(default_factory=dict)
    start: Sample | None = None
    end: Sample | None = None
    failures: list[str] = field(default_factory=list)

    def growth(self) -> tuple[float, float]:
        """(fd growth, RSS growth) from start to end, as fractions."""
        assert self.start is not None
        assert self.end is not None
        return (
            (self.end.fds - self.start.fds) / self.start.fds,
            (self.end.rss_kib - self.start.rss_kib) / self.start.rss_kib,
        )

    def leftovers(self) -> frozenset[int]:
        assert self.start is not None
        assert self.end is not None
        return self.end.descendants - self.start.descendants


def sample(pid: int) -> Sample:
    status = Path(f"/proc/{pid}/status").read_text()
    rss = int(status.split("VmRSS:")[1].split()[0])
    return Sample(len(os.listdir(f"/proc/{pid}/fd")), rss, frozenset(descendants(pid)))


def descendants(root: int) -> set[int]:
    """Every live process below `root` (zombies included: nobody reaped them)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except (FileNotFoundError, ProcessLookupError):
            continue
        parent = int(stat.rpartition(")")[2].split()[1])
        children.setdefault(parent, []).append(int(entry))
    found: set[int] = set()
    stack = [root]
    while stack:
        for child in children.get(stack.pop(), []):
            found.add(child)
            stack.append(child)
    return found


def wait_gone(pids: Iterable[int], timeout: float) -> list[int]:
    """Wait on each pid's pidfd until it exits; returns those still alive at the deadline."""
    deadline = time.monotonic() + timeout
    alive = []
    for pid in pids:
        try:
            fd = os.pidfd_open(pid)
        except ProcessLookupError:
            continue
        try:
            poller = select.poll()
            poller.register(fd, select.POLLIN)
            if not poller.poll(max(0.0, deadline - time.monotonic()) * 1000):
                alive.append(pid)
        finally:
            os.close(fd)
    return alive


def read_until(process: subprocess.Popen[bytes], marker: bytes, timeout: float) -> bytes:
    """The client's stdout up to the line starting with `marker`."""
    assert process.stdout is not None
    fd = process.stdout.fileno()
    deadline = time.monotonic() + timeout
    seen = b""
    while not any(line.startswith(marker) for line in seen.splitlines()):
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        chunk = os.read(fd, 65536) if ready else b""
        if not chunk:
            raise AssertionError(f"no {marker!r} from the client: {seen!r}")
        seen += chunk
    return seen


def tree_pids(output: bytes) -> list[int]:
    line = next(line for line in output.splitlines() if line.startswith(b"PIDS"))
    return [int(pid) for pid in line.split()[1:]]


class Soak:
    """Drives runs through `toxbridge run` subprocesses against `server`."""

    def __init__(self, server: RunningServer) -> None:
        self.server = server
        self.client = [*toxbridge("run"), *server.client_args(), "--liveness", str(LIVENESS_S)]
        self.report = Report()

    def kind_of(self, index: int) -> str:
        """A fixed mix: per 10 runs, 6 exit codes, 2 outputs, 1 cancelled, 1 killed client."""
        return {3: "cancel-sigint" if index % 20 < 10 else "cancel-cli", 7: "killed"}.get(
            index % 10, "echo" if index % 10 in (1, 5) else "exit"
        )

    def run(self, count: int, warmup: int = 5) -> Report:
        for index in range(warmup):
            self.one(self.kind_of(index), index)
        self.report = Report()
        self.report.start = sample(self.server.process.pid)
        for index in range(count):
            self.one(self.kind_of(index), index)
        self.report.end = sample(self.server.process.pid)
        return self.report

    def one(self, kind: str, index: int) -> None:
        started = time.perf_counter()
        try:
            if kind == "exit":
                self._exit_code(index % 7)
            elif kind == "echo":
                self._echo(f"soak-{index}")
            elif kind == "killed":
                self._killed()
            else:
                self._cancelled(via_cli=kind == "cancel-cli")
        except AssertionError as failure:
            self.report.failures.append(f"run {index} ({kind}): {failure}")
        self.report.runs[kind] += 1
        self.report.durations.setdefault(kind, []).append(time.perf_counter() - started)

    def _exit_code(self, code: int) -> None:
        result = subprocess.run(
            [*self.client, "-e", "exit", "--", str(code)],
            capture_output=True,
            timeout=RUN_TIMEOUT_S,
        )
        assert result.returncode == code, (result.returncode, result.stderr[-2000:])

    def _echo(self, word: str) -> None:
        result = subprocess.run(
            [*self.client, "-e", "echo", "--", word], capture_output=True, timeout=RUN_TIMEOUT_S
        )
        assert result.returncode == 0, (result.returncode, result.stderr[-2000:])
        assert f"echo {word}".encode() in result.stdout, result.stdout[-2000:]
        assert b"to stderr" in result.stderr

    def _start_tree(self) -> tuple[subprocess.Popen[bytes], list[int]]:
        process = subprocess.Popen(
            [*self.client, "-e", "tree"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        try:
            return process, tree_pids(read_until(process, b"READY", RUN_TIMEOUT_S))
        except BaseException:
            process.kill()
            process.communicate()
            raise

    def _cancelled(self, *, via_cli: bool) -> None:
        process, pids = self._start_tree()
        with process:
            if via_cli:
                cancel = subprocess.run(
                    [*toxbridge("cancel"), *self.server.client_args()],
                    capture_output=True,
                    text=True,
                    timeout=RUN_TIMEOUT_S,
                )
                assert cancel.stdout.startswith("cancelled: "), cancel
            else:
                process.send_signal(signal.SIGINT)
            _, stderr = process.communicate(timeout=RUN_TIMEOUT_S)
        assert process.returncode not in (0, 130), (process.returncode, stderr[-2000:])
        if not via_cli:
            assert b"cancelling the remote run" in stderr
        assert not wait_gone(pids, TREE_GONE_S), f"tree {pids} outlived its cancelled run"

    def _killed(self) -> None:
        process, pids = self._start_tree()
        with process:
            process.kill()
            process.communicate()
        assert process.returncode == -signal.SIGKILL
        alive = wait_gone(pids, TREE_GONE_S)
        assert not alive, f"tree {alive} outlived its SIGKILLed client by {TREE_GONE_S}s"
