"""One client misbehaves (grants credit, never reads), another runs normally: the server's
memory, its ping latency and the normal client's runs meanwhile.

Run: `python benchmarks/bench_misbehaving.py [--seconds 20] [--baseline DIR]`. It builds
the tests' sample project, starts a real `toxbridge serve`, starts the hoarder
(tests/hardening/misbehaving.py: asks for 20 GB of output, grants credit every 0.1 s,
takes nothing off its socket) and, in this process, a normal client that pings every
5 ms and runs `tox -e exit` once a second. It samples the server's RSS every 0.2 s.
`--baseline DIR` runs the same again with the server from another checkout (its
`toxbridge` package in DIR), for a before/after comparison in one go.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import create_envs, free_port, make_project, wait_serving  # noqa: E402
from tests.hardening.misbehaving import Hoarder  # noqa: E402
from toxbridge.config import Endpoint  # noqa: E402
from toxbridge.errors import ToxbridgeError  # noqa: E402
from toxbridge.net.client import Client  # noqa: E402

HUGE = ["-qq", "-e", "big", "--", "20000000000"]


@dataclass
class Figures:
    rss_mib: list[float]
    pings_ms: list[float]
    ping_failures: int
    runs_ok: int
    runs_failed: int
    abandoned_after_s: float | None


def rss_mib(pid: int) -> float:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return 0.0
    return int(status.split("VmRSS:")[1].split()[0]) / 1024


async def pinger(endpoint: str, seconds: float, figures: Figures) -> None:
    async with Client(Endpoint(endpoint), timeout=5) as client:
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            try:
                figures.pings_ms.append((await client.ping())[1] * 1000)
            except ToxbridgeError:
                figures.ping_failures += 1
            await asyncio.sleep(0.005)


async def runner(endpoint: str, seconds: float, figures: Figures) -> None:
    """A run a second, each given 5 s (the hoarder holds the one tox slot until abandoned)."""
    async with Client(Endpoint(endpoint), timeout=5) as client:
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            await run_once(client, figures)
            await asyncio.sleep(1)


async def run_once(client: Client, figures: Figures) -> None:
    try:
        async with asyncio.timeout(5), client.run(["-e", "exit", "--", "0"]) as remote:
            async for _ in remote:
                pass
        ok = remote.result is not None and remote.result.code == 0
    except (ToxbridgeError, TimeoutError):
        ok = False  # queued behind the hoarder's run, or refused
    figures.runs_ok += ok
    figures.runs_failed += not ok


async def sample_rss(pid: int, seconds: float, figures: Figures) -> None:
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        figures.rss_mib.append(rss_mib(pid))
        await asyncio.sleep(0.2)


def measure(project: Path, log: Path, seconds: float, pythonpath: str | None) -> Figures:
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    argv = [sys.executable, "-m", "toxbridge", "-l", "info", "serve", "--endpoint", endpoint]
    with log.open("wb") as out:
        server = subprocess.Popen(  # cwd: `python -m` would import from ours first
            [*argv, "--root", str(project)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=project,
        )
    figures = Figures([], [], 0, 0, 0, None)
    try:
        wait_serving(endpoint)
        started = time.monotonic()
        with Hoarder(endpoint, HUGE):

            async def both() -> None:
                await asyncio.gather(
                    pinger(endpoint, seconds, figures),
                    runner(endpoint, seconds, figures),
                    sample_rss(server.pid, seconds, figures),
                    watch_log(log, started, seconds, figures),
                )

            asyncio.run(both())
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    return figures


async def watch_log(log: Path, started: float, seconds: float, figures: Figures) -> None:
    until = started + seconds
    while time.monotonic() < until and figures.abandoned_after_s is None:
        text = await asyncio.to_thread(log.read_text, errors="replace")
        if "abandoning its runs" in text:
            figures.abandoned_after_s = time.monotonic() - started
        await asyncio.sleep(0.1)


def report(name: str, figures: Figures) -> None:
    pings = sorted(figures.pings_ms)
    p50 = statistics.median(pings) if pings else float("nan")
    p99 = pings[min(len(pings) - 1, int(0.99 * len(pings)))] if pings else float("nan")
    abandoned = (
        f"{figures.abandoned_after_s:.1f} s" if figures.abandoned_after_s is not None else "never"
    )
    print(f"| {name} | server RSS peak | {max(figures.rss_mib):.0f} MiB |")
    print(f"| {name} | server RSS at the end | {figures.rss_mib[-1]:.0f} MiB |")
    print(f"| {name} | ping p50 / p99 (n={len(pings)}) | {p50:.2f} / {p99:.2f} ms |")
    print(f"| {name} | pings unanswered | {figures.ping_failures} |")
    runs = f"{figures.runs_ok} / {figures.runs_failed}"
    print(f"| {name} | normal runs (5 s each) done / not | {runs} |")
    print(f"| {name} | hoarder abandoned after | {abandoned} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--baseline", metavar="DIR", help="also measure the server in DIR")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="toxbridge-bench-misbehaving-"))
    try:
        project = create_envs(make_project(work / "project"), "big,exit")
        print("| server | measure | value |\n|---|---|---|")
        report("this checkout", measure(project, work / "server.log", args.seconds, None))
        if args.baseline:
            figures = measure(project, work / "baseline.log", args.seconds, args.baseline)
            report(f"baseline {args.baseline}", figures)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
