"""Core benchmarks: relay throughput, run overhead, ping latency and cancel time.

Run: `python benchmarks/bench_core.py [--quick]`. It builds the tests' sample tox
project in a temp dir, starts real `toxbridge serve` processes on free 127.0.0.1
ports, and compares `toxbridge run` with plain `tox` in alternating pairs in this
process; ratios are computed per pair. Figures are medians with min/max: the machine
is shared, so single samples mean little. The Markdown table at the end is the one
the README quotes.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import free_port, make_project, wait_serving  # noqa: E402
from toxbridge.config import Endpoint  # noqa: E402
from toxbridge.net.client import Client  # noqa: E402
from toxbridge.wire import protocol  # noqa: E402

BIN = Path(sys.executable).parent
TOX = [str(BIN / "tox")]  # console scripts on both sides, so startup costs compare fairly
TOXBRIDGE = [str(BIN / "toxbridge")]
PEAK_RSS = [sys.executable, str(ROOT / "tests" / "helpers" / "peak_rss.py")]
MB = 1_000_000
READ_BYTES = 1 << 20
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Mode:
    sizes_mb: tuple[int, ...]
    throughput_pairs: int
    overhead_envs: tuple[str, ...]
    overhead_pairs: int
    cli_pings: int
    rtt_pings: int
    busy_runs: int
    busy_mb: int
    cancels: int


FULL = Mode((10, 50, 200), 5, ("echo", "py"), 10, 15, 5000, 3, 30, 5)
QUICK = Mode((10,), 2, ("echo",), 3, 10, 1000, 1, 30, 2)


@dataclass(frozen=True, slots=True)
class Row:
    name: str
    values: tuple[float, ...]
    unit: str
    target: str = ""
    met: bool | None = None

    def markdown(self) -> str:
        mid, low, high = (statistics.median(self.values), min(self.values), max(self.values))
        verdict = {None: "", True: "yes", False: "**no**"}[self.met]
        spread = f"{_num(low)} to {_num(high)}" if len(self.values) > 1 else ""
        return f"| {self.name} | {_num(mid)} {self.unit} | {spread} | {self.target} | {verdict} |"


def _num(value: float) -> str:
    if value == int(value) and abs(value) >= 10:
        return f"{int(value)}"
    return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def alternate(pairs: int, first: Callable[[], T], second: Callable[[], T]) -> list[tuple[T, T]]:
    """`pairs` pairs (first's result, second's result), swapping who goes first each time."""
    results = []
    for index in range(pairs):
        if index % 2 == 0:
            a = first()
            b = second()
        else:
            b = second()
            a = first()
        results.append((a, b))
    return results


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}


def vm_hwm_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(status.split("VmHWM:")[1].split()[0])


# -- processes -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Captured:
    """What one command wrote to stdout, and when."""

    seconds: float
    size: int
    lines: int
    digest: str
    code: int
    stderr: bytes
    first_byte: float
    last_byte: float
    cpu: float  # user + system seconds of the command and the descendants it reaped


def capture(argv: Sequence[str], cwd: Path) -> Captured:
    """Run `argv`, hashing its stdout as it arrives; wall time is start to exit."""
    hasher = hashlib.sha256()
    size = lines = 0
    first = last = 0.0
    errors: list[bytes] = []
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    process = subprocess.Popen(
        argv, cwd=cwd, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert process.stdout is not None
    assert process.stderr is not None
    stderr = process.stderr
    drain = threading.Thread(target=lambda: errors.append(stderr.read()))
    drain.start()
    try:
        while chunk := os.read(process.stdout.fileno(), READ_BYTES):
            last = time.perf_counter()
            first = first or last
            hasher.update(chunk)
            size += len(chunk)
            lines += chunk.count(b"\n")
        code = process.wait()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        drain.join()
        process.stdout.close()
        stderr.close()
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - usage.ru_utime - usage.ru_stime
    digest = hasher.hexdigest()
    return Captured(seconds, size, lines, digest, code, b"".join(errors), first, last, cpu)


@dataclass(frozen=True, slots=True)
class Server:
    process: subprocess.Popen[bytes]
    endpoint: str


@contextmanager
def server(project: Path, log: Path, *extra: str) -> Iterator[Server]:
    """A real `toxbridge serve` on a free loopback port, stopped (and reaped) on exit."""
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    argv = [
        *TOXBRIDGE,
        "serve",
        "--endpoint",
        endpoint,
        "--root",
        str(project),
    ]  # default log level, as users run it
    with log.open("ab") as out:
        process = subprocess.Popen(
            [*argv, *extra], stdout=out, stderr=subprocess.STDOUT, env=clean_env()
        )
    try:
        try:
            wait_serving(endpoint)
        except Exception as error:
            raise RuntimeError(f"server did not start: {error}; see {log}") from None
        yield Server(process, endpoint)
    finally:
        if process.poll() is None:
            process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def prepare_project(root: Path, envs: Sequence[str]) -> Path:
    project = make_project(root)
    subprocess.run(
        [*TOX, "run", "-e", ",".join(envs), "--notest"],
        cwd=project,
        check=True,
        capture_output=True,
        env=clean_env(),
    )
    return project


# -- 1. throughput ---------------------------------------------------------------------


def bench_throughput(project: Path, logs: Path, size_mb: int, pairs: int) -> list[Row]:
    size = size_mb * MB
    expected = capture([sys.executable, "big.py", str(size)], project)
    plain_argv = [*TOX, "-qq", "-e", "big", "--", str(size)]
    with server(project, logs / f"server-{size_mb}mb.log") as srv:
        relay_argv = [*PEAK_RSS, "run", "--endpoint", srv.endpoint, "-qq", "-e", "big"]

        def relay_once() -> tuple[Captured, float]:
            before = cpu_seconds(srv.process.pid)
            captured = capture([*relay_argv, "--", str(size)], project)
            return captured, cpu_seconds(srv.process.pid) - before

        results = alternate(pairs, relay_once, lambda: (capture(plain_argv, project), 0.0))
        server_rss = vm_hwm_kib(srv.process.pid) / 1024
    relay = [r for (r, _), _ in results]
    plain = [p for _, (p, _) in results]
    per_100mb = 100 / size_mb
    relay_cpu = [(r.cpu + server) * per_100mb for (r, server), _ in results]
    tag = f"{size_mb} MB"
    ratios = [p.seconds / r.seconds for r, p in zip(relay, plain, strict=True)]
    return [
        Row(f"{tag}: relay throughput", tuple(size / MB / r.seconds for r in relay), "MB/s"),
        Row(f"{tag}: plain tox throughput", tuple(size / MB / p.seconds for p in plain), "MB/s"),
        Row(f"{tag}: throughput ratio relay/plain", tuple(ratios), "x", "≥ 0.95", _ge(ratios)),
        *_loss_rows(tag, expected, relay, plain),
        Row(f"{tag}: server peak RSS (VmHWM)", (server_rss,), "MiB", "< 100", server_rss < 100),
        Row(
            f"{tag}: client peak RSS (VmHWM)",
            tuple(_peak_rss_mib(r.stderr) for r in relay),
            "MiB",
            "< 100",
            _lt([_peak_rss_mib(r.stderr) for r in relay]),
        ),
        Row(f"{tag}: relay CPU (server + client) per 100 MB", tuple(relay_cpu), "s"),
        Row(
            f"{tag}: plain tox + big.py CPU per 100 MB",
            tuple(p.cpu * per_100mb for p in plain),
            "s",
        ),
    ]


def _loss_rows(
    tag: str, expected: Captured, relay: Sequence[Captured], plain: Sequence[Captured]
) -> list[Row]:
    lost_bytes = [float(expected.size - r.size) for r in relay]
    lost_lines = [float(expected.lines - r.lines) for r in relay]
    wrong = sum(r.digest != expected.digest or r.code != 0 for r in relay)
    plain_wrong = sum(p.digest != expected.digest for p in plain)
    runs = f"of {len(relay)}"
    return [
        Row(f"{tag}: bytes lost", tuple(lost_bytes), "B", "0", not any(lost_bytes) and not wrong),
        Row(f"{tag}: lines lost", tuple(lost_lines), "", "0", not any(lost_lines)),
        Row(f"{tag}: relay runs with wrong sha256 or exit", (wrong,), runs, "0", not wrong),
        Row(f"{tag}: plain tox runs with wrong sha256", (plain_wrong,), runs),
    ]


def cpu_seconds(pid: int) -> float:
    """User + system CPU of process `pid` itself (not its children), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _peak_rss_mib(stderr: bytes) -> float:
    found = re.search(rb"PEAK_RSS_KIB (\d+)", stderr)
    if found is None:
        raise RuntimeError(f"client did not report its peak RSS: {stderr[-500:]!r}")
    return int(found.group(1)) / 1024


def _ge(values: Sequence[float], bound: float = 0.95) -> bool:
    return median(values) >= bound


def _lt(values: Sequence[float], bound: float = 100) -> bool:
    return max(values) < bound


# -- 2. run overhead and 3. CLI ping ---------------------------------------------------


def bench_overhead(project: Path, endpoint: str, env: str, pairs: int) -> list[Row]:
    results = alternate(
        pairs,
        lambda: capture([*TOXBRIDGE, "run", "--endpoint", endpoint, "-e", env], project),
        lambda: capture([*TOX, "-e", env], project),
    )
    for relay, plain in results:
        if relay.code != plain.code:
            raise RuntimeError(f"exit codes differ: relay {relay.code}, plain {plain.code}")
    ratios = [r.seconds / p.seconds for r, p in results]
    return [
        Row(f"`toxbridge run -e {env}` wall", tuple(r.seconds for r, _ in results), "s"),
        Row(f"`tox -e {env}` wall", tuple(p.seconds for _, p in results), "s"),
        Row(
            f"run -e {env} overhead relay/plain",
            tuple(ratios),
            "x",
            "≤ 1.10",
            median(ratios) <= 1.1,
        ),
    ]


def bench_cli_ping(project: Path, endpoint: str, count: int) -> list[Row]:
    walls = []
    for _ in range(count):
        result = capture([*TOXBRIDGE, "ping", "--endpoint", endpoint], project)
        if result.code != 0:
            raise RuntimeError(f"ping failed: {result.stderr!r}")
        walls.append(result.seconds * 1000)
    return [Row("CLI `toxbridge ping` wall (start to exit)", tuple(walls), "ms")]


# -- 4. in-process ping RTT and 5. ping during a run -------------------------------------


async def ping_rtts(endpoint: str, count: int) -> list[float]:
    async with Client(Endpoint(endpoint)) as client:
        for _ in range(50):  # warm up: connection, allocator, code paths
            await client.ping()
        return [(await client.ping())[1] * 1e6 for _ in range(count)]


def bench_rtt(endpoint: str, count: int) -> list[Row]:
    rtts = asyncio.run(ping_rtts(endpoint, count))
    p50, p99 = percentile(rtts, 0.5), percentile(rtts, 0.99)
    return [
        Row(
            f"in-process ping RTT p50 (n={count})",
            (p50, min(rtts), max(rtts)),
            "µs",
            "≤ 150",
            p50 <= 150,
        ),
        Row(f"in-process ping RTT p99 (n={count})", (p99,), "µs"),
    ]


async def pings_during(endpoint: str, project: Path, size: int) -> list[float]:
    """Ping every ms while a `toxbridge run` subprocess consumes `size` bytes of output."""
    argv = [*TOXBRIDGE, "run", "--endpoint", endpoint, "-qq", "-e", "big", "--", str(size)]
    outcome: list[Captured] = []
    consumer = threading.Thread(target=lambda: outcome.append(capture(argv, project)))
    samples: list[tuple[float, float]] = []
    async with Client(Endpoint(endpoint)) as client:
        await client.ping()
        consumer.start()
        try:
            while consumer.is_alive():
                sent = time.perf_counter()
                samples.append((sent, (await client.ping())[1]))
                await asyncio.sleep(0.001)
        finally:
            consumer.join()
    run = outcome[0]
    if run.size != size or run.code != 0:
        raise RuntimeError(f"the run under pings lost output: {run.size} of {size} bytes")
    return [rtt * 1000 for sent, rtt in samples if run.first_byte <= sent <= run.last_byte]


def bench_busy_ping(endpoint: str, project: Path, runs: int, size_mb: int) -> list[Row]:
    rtts: list[float] = []
    for _ in range(runs):
        rtts += asyncio.run(pings_during(endpoint, project, size_mb * MB))
    p50, p99 = percentile(rtts, 0.5), percentile(rtts, 0.99)
    name = f"ping during a {size_mb} MB run (n={len(rtts)})"
    return [
        Row(f"{name} p50", (p50, min(rtts), max(rtts)), "ms", "≤ 5", p50 <= 5),
        Row(f"{name} p99", (p99,), "ms", "≤ 5", p99 <= 5),
    ]


# -- 6. cancel to tree gone --------------------------------------------------------------


async def all_exited(pidfds: Sequence[int], start: float) -> float:
    """Seconds from `start` until every pidfd is readable (its process has exited)."""
    loop = asyncio.get_running_loop()
    futures = []
    for fd in pidfds:
        future: asyncio.Future[float] = loop.create_future()

        def done(fd: int = fd, future: asyncio.Future[float] = future) -> None:
            loop.remove_reader(fd)
            if not future.done():
                future.set_result(time.perf_counter() - start)

        loop.add_reader(fd, done)
        futures.append(future)
    try:
        return max(await asyncio.gather(*futures))
    finally:
        for fd in pidfds:
            loop.remove_reader(fd)


async def cancel_once(endpoint: str) -> tuple[float, float]:
    """(seconds to tree gone, seconds to `exit`) after `remote.cancel()` on `-e tree`."""
    async with Client(Endpoint(endpoint)) as client, client.run(["-qq", "-e", "tree"]) as remote:
        events = aiter(remote)
        text = b""
        async for event in events:
            if isinstance(event, protocol.Output):
                text += event.data
                if b"READY" in text:
                    break
        found = re.search(rb"PIDS (\d+) (\d+)", text)
        if remote.started is None or found is None:
            raise RuntimeError(f"the tree did not start: {text!r}")
        pids = [remote.started.pid, int(found.group(1)), int(found.group(2))]
        pidfds = [os.pidfd_open(pid) for pid in pids]
        try:
            async with asyncio.timeout(30):
                start = time.perf_counter()
                gone = asyncio.create_task(all_exited(pidfds, start))
                await remote.cancel()
                async for event in events:
                    if isinstance(event, protocol.Exit) and not event.cancelled:
                        raise RuntimeError("the cancelled run did not report cancelled")
                exit_s = time.perf_counter() - start
                return await gone, exit_s
        finally:
            for fd in pidfds:
                os.close(fd)


def bench_cancel(project: Path, logs: Path, count: int, grace: str | None) -> list[Row]:
    extra = ["--sigint-grace", grace] if grace else []
    label = f"--sigint-grace {grace}" if grace else "default grace (2 s)"
    with server(project, logs / f"server-cancel-{grace}.log", *extra) as srv:
        times = [asyncio.run(cancel_once(srv.endpoint)) for _ in range(count)]
    tree = [t for t, _ in times]
    return [
        Row(f"cancel → tree gone, {label}", tuple(tree), "s", "≤ 0.5", median(tree) <= 0.5),
        Row(f"cancel → `exit` event, {label}", tuple(e for _, e in times), "s"),
    ]


# -- main --------------------------------------------------------------------------------


def run_all(mode: Mode, work: Path) -> list[Row]:
    envs = sorted({"big", "tree", *mode.overhead_envs})
    project = prepare_project(work / "project", envs)
    logs = work
    rows: list[Row] = []
    for size_mb in mode.sizes_mb:
        _progress(f"throughput {size_mb} MB x {mode.throughput_pairs} pairs")
        rows += bench_throughput(project, logs, size_mb, mode.throughput_pairs)
    with server(project, logs / "server-latency.log") as srv:
        for env in mode.overhead_envs:
            _progress(f"run -e {env} overhead x {mode.overhead_pairs} pairs")
            rows += bench_overhead(project, srv.endpoint, env, mode.overhead_pairs)
        _progress("CLI ping")
        rows += bench_cli_ping(project, srv.endpoint, mode.cli_pings)
        _progress("in-process ping RTT")
        rows += bench_rtt(srv.endpoint, mode.rtt_pings)
        _progress(f"ping during {mode.busy_mb} MB runs")
        rows += bench_busy_ping(srv.endpoint, project, mode.busy_runs, mode.busy_mb)
    for grace in (None, "0.1"):
        _progress(f"cancel tree, grace {grace or 'default'}")
        rows += bench_cancel(project, logs, mode.cancels, grace)
    return rows


def _progress(text: str) -> None:
    print(f"… {text}", file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="small sizes, few repeats (< 60 s)")
    parser.add_argument("--keep", action="store_true", help="keep the work dir (server logs)")
    args = parser.parse_args()
    mode = QUICK if args.quick else FULL
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="toxbridge-bench-"))
    try:
        rows = run_all(mode, work)
    finally:
        if args.keep:
            _progress(f"work dir kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(f"\n## toxbridge core benchmarks ({'quick' if args.quick else 'full'})\n")
    print(
        f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}; medians, min to max over repeats"
    )
    print(f"(ratios per alternating pair); took {time.perf_counter() - started:.0f} s\n")
    print("| measure | median | min to max | target | met |")
    print("|---|---|---|---|---|")
    for row in rows:
        print(row.markdown())


if __name__ == "__main__":
    main()
