"""Test events through the server: what asking for them costs a real run, end to end.

Run: `python benchmarks/bench_events.py [--pairs N] [--tests N] [--cold]`. It writes
bench_reporter's generated suite (2,000 fast tests by default) to a temp tox project,
creates its env, starts a real `toxbridge serve` on it (warm unless --cold) and runs
`-e lean` through a real client with `events` off and on, in pairs that alternate which
goes first. Printed: the wall time from the request to its `exit` as medians (min to
max), the on/off ratio per pair (target <= 1.03), the test messages and records per
"on" run, the latency from a record's timestamp (made in pytest's hook) to its arrival
at the client, p50 and p99 (target p50 <= 20 ms), the server process's own CPU time per
run (what forwarding costs it; tox runs in other processes), and whether tox's output
(stdout and stderr, times, pids and addresses masked) was byte-identical with and
without events.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_reporter import quantile, spread, tox_env, write_suite  # noqa: E402

from toxbridge.config import parse_endpoint  # noqa: E402
from toxbridge.net.client import Client  # noqa: E402
from toxbridge.reporter import events  # noqa: E402
from toxbridge.wire import protocol  # noqa: E402

ENV = "lean"
_MASKS = [
    (re.compile(rb"\d+(\.\d+)?(=setup\[\d+(\.\d+)?\]\+cmd\[\d+(\.\d+)?\])? seconds?\b"), b"<t> s"),
    (re.compile(rb" in \d+\.\d+s\b"), b" in <t>s"),
    (re.compile(rb"\bpid=\d+"), b"pid=<pid>"),
    (re.compile(rb"\bat 0x[0-9a-f]+>"), b"at <address>>"),
]


@dataclass
class Run:
    wall: float
    server_cpu: float
    stdout: bytes
    stderr: bytes
    code: int
    tests: int = 0
    latencies: list[float] = field(default_factory=list)

    def masked(self) -> tuple[int, bytes, bytes]:
        streams = []
        for data in (self.stdout, self.stderr):
            for pattern, replacement in _MASKS:
                data = pattern.sub(replacement, data)
            streams.append(data)
        return self.code, streams[0], streams[1]


def process_cpu(pid: int) -> float:
    """User + system seconds of process `pid` so far (children not included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def one_run(endpoint: str, server: int, events_on: bool) -> Run:
    out: dict[protocol.Stream, list[bytes]] = {stream: [] for stream in protocol.Stream}
    latencies: list[float] = []
    tests = 0
    async with Client(parse_endpoint(endpoint), timeout=300) as client:
        cpu = process_cpu(server)
        start = time.perf_counter()
        async with client.run(["-e", ENV], events=events_on) as remote:
            async for message in remote:
                if isinstance(message, protocol.Output):
                    out[message.stream].append(message.data)
                elif isinstance(message, protocol.Test):
                    arrived = time.time()
                    tests += 1
                    for record in message.records():
                        if not isinstance(record, events.BadRecord):
                            latencies.append(arrived - record.t)
        wall = time.perf_counter() - start
        cpu = process_cpu(server) - cpu
    assert remote.result is not None
    stdout, stderr = (b"".join(out[stream]) for stream in protocol.Stream)
    return Run(wall, cpu, stdout, stderr, remote.result.code, tests, latencies)


async def bench(endpoint: str, server: int, pairs: int) -> None:
    offs: list[Run] = []
    ons: list[Run] = []
    for pair in range(pairs):
        order = (True, False) if pair % 2 else (False, True)
        for events_on in order:
            (ons if events_on else offs).append(await one_run(endpoint, server, events_on))
    records = [len(run.latencies) for run in ons]
    messages = statistics.median(run.tests for run in ons)
    print(f"env {ENV}: {statistics.median(records):,.0f} records in {messages:,.0f} messages a run")
    off_s = [run.wall for run in offs]
    on_s = [run.wall for run in ons]
    ratios = [a / b for a, b in zip(on_s, off_s, strict=True)]
    print(f"  wall, events off       {spread(off_s, ' s')}")
    print(f"  wall, events on        {spread(on_s, ' s')}")
    print(f"  wall on/off ratio      {spread(ratios, 'x')}  target <= 1.03x")
    off_cpu = [run.server_cpu for run in offs]
    on_cpu = [run.server_cpu for run in ons]
    print(f"  server CPU, off / on   {spread(off_cpu, ' s', 2)} / {spread(on_cpu, ' s', 2)}")
    latencies = [latency for run in ons for latency in run.latencies]
    p50, p99 = quantile(latencies, 0.5) * 1000, quantile(latencies, 0.99) * 1000
    print(f"  latency p50 / p99      {p50:.2f} / {p99:.2f} ms  target p50 <= 20 ms")
    same = all(on.masked() == off.masked() for on, off in zip(ons, offs, strict=True))
    print(f"  output identical       {'yes' if same else 'NO'} (stdout and stderr, every pair)")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_serving(endpoint: str) -> None:
    async def ping() -> None:
        async with Client(parse_endpoint(endpoint), timeout=30, fail_fast=False) as client:
            await client.ping()

    asyncio.run(ping())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=7)
    parser.add_argument("--tests", type=int, default=2000)
    parser.add_argument("--cold", action="store_true", help="a server that runs tox cold")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-events-") as temp:
        root = Path(temp)
        write_suite(root, options.tests)
        create = [sys.executable, "-m", "tox", "-e", ENV, "--notest"]
        subprocess.run(create, cwd=root, env=tox_env(), check=True, stdout=subprocess.DEVNULL)
        endpoint = f"tcp://127.0.0.1:{free_port()}"
        serve = [sys.executable, "-m", "toxbridge", "serve", "--endpoint", endpoint]
        serve += ["--root", str(root), *(["--cold"] if options.cold else [])]
        server = subprocess.Popen(serve, env=tox_env(), stderr=subprocess.DEVNULL)
        try:
            wait_serving(endpoint)
            warmth = "cold" if options.cold else "warm"
            print(f"{options.tests} tests, {options.pairs} pairs, a {warmth} server\n")
            asyncio.run(one_run(endpoint, server.pid, True))  # warm the caches, both sides
            asyncio.run(bench(endpoint, server.pid, options.pairs))
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
