"""tty-mode relay throughput: N MB of tox output through a pty run, a pipe run, and plain tox.

Run: `python benchmarks/bench_pty.py [--quick]`. It builds the tests' sample project in a
temp dir, starts a real `toxbridge serve` (warm, as users run it) on a free loopback port,
and times, in rotating order, per size:

- `toxbridge run --tty -e big -- N` on a fresh local pty (a reader drains the master),
- `toxbridge run --no-tty -e big -- N` into a pipe (today's pipe path),
- plain `tox -e big -- N` on a local pty, in the project (what a local terminal costs).

Wall time is start to exit, tox's start-up included; MB/s is N over it. Ratios are taken
per round, figures are medians with min/max (the machine is shared).
"""

from __future__ import annotations

import argparse
import fcntl
import os
import select
import statistics
import subprocess
import sys
import tempfile
import termios
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_core import TOX, TOXBRIDGE, capture, clean_env, server  # noqa: E402

from tests.conftest import create_envs, make_project  # noqa: E402

MB = 1_000_000
READ_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class Mode:
    sizes_mb: tuple[int, ...]
    rounds: int


FULL = Mode((10, 50), 5)
QUICK = Mode((10,), 2)


def on_pty(argv: Sequence[str], cwd: Path) -> tuple[float, int, int]:
    """(seconds, bytes read, exit code) of `argv` on a new pty whose master we drain."""
    master, slave = os.openpty()

    def controlling_terminal() -> None:
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    started = time.perf_counter()
    try:
        process = subprocess.Popen(
            argv,
            cwd=cwd,
            env={**clean_env(), "TERM": "xterm-256color"},
            stdin=slave,
            stdout=slave,
            stderr=slave,
            start_new_session=True,
            preexec_fn=controlling_terminal,
        )
    finally:
        os.close(slave)
    size = 0
    try:
        while True:
            select.select([master], [], [])
            try:
                chunk = os.read(master, READ_BYTES)
            except OSError:  # EIO: everything on the terminal has closed it
                break
            if not chunk:
                break
            size += len(chunk)
        code = process.wait()
    finally:
        os.close(master)
    return time.perf_counter() - started, size, code


def rate(size_mb: int, seconds: float) -> float:
    return size_mb / seconds


def row(name: str, values: Sequence[float], unit: str) -> str:
    low, mid, high = min(values), statistics.median(values), max(values)
    return f"| {name} | {mid:.2f} {unit} | {low:.2f} to {high:.2f} |"


def bench(project: Path, endpoint: str, size_mb: int, rounds: int) -> list[str]:
    size = str(size_mb * MB)
    client = [*TOXBRIDGE, "run", "--endpoint", endpoint]
    timings: dict[str, list[float]] = {"pty": [], "pipe": [], "local": []}

    def pty_run() -> None:
        seconds, read, code = on_pty([*client, "--tty", "-e", "big", "--", size], project)
        assert code == 0 and read >= size_mb * MB, (code, read)  # noqa: PT018
        timings["pty"].append(seconds)

    def pipe_run() -> None:
        captured = capture([*client, "--no-tty", "-e", "big", "--", size], project)
        assert captured.code == 0 and captured.size >= size_mb * MB  # noqa: PT018
        timings["pipe"].append(captured.seconds)

    def local_run() -> None:
        seconds, read, code = on_pty([*TOX, "-e", "big", "--", size], project)
        assert code == 0 and read >= size_mb * MB, (code, read)  # noqa: PT018
        timings["local"].append(seconds)

    order = [pty_run, pipe_run, local_run]
    for index in range(rounds):
        for step in order[index % 3 :] + order[: index % 3]:
            step()
    pty, pipe, local = timings["pty"], timings["pipe"], timings["local"]
    return [
        row(f"{size_mb} MB, tty mode (pty both sides)", [rate(size_mb, s) for s in pty], "MB/s"),
        row(f"{size_mb} MB, pipe mode", [rate(size_mb, s) for s in pipe], "MB/s"),
        row(f"{size_mb} MB, plain tox on a local pty", [rate(size_mb, s) for s in local], "MB/s"),
        row(f"{size_mb} MB, tty / pipe time", [a / b for a, b in zip(pty, pipe, strict=True)], "x"),
        row(
            f"{size_mb} MB, tty / local tox time",
            [a / b for a, b in zip(pty, local, strict=True)],
            "x",
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one size, two rounds")
    mode = QUICK if parser.parse_args().quick else FULL
    with tempfile.TemporaryDirectory(prefix="bench-pty-") as tmp:
        work = Path(tmp)
        project = create_envs(make_project(work / "project"), "big")
        lines = ["| measure | median | min to max |", "|---|---|---|"]
        with server(project, work / "server.log") as running:
            for size_mb in mode.sizes_mb:
                lines += bench(project, running.endpoint, size_mb, mode.rounds)
        print("\n".join(lines))


if __name__ == "__main__":
    main()
