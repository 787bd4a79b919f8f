"""Test events benchmark: what the reporter costs a tox run, and how fast its records arrive.

Run: `python benchmarks/bench_reporter.py [--pairs N] [--tests N]`. It generates a suite
of fast tests (passing, failing, skipped, parametrized; 2,000 by default) in a temp tox
project, creates its envs, then runs `python -m tox -e ENV` with test events off and on
(a real `EventChannel`, TOXBRIDGE_EVENTS set, every record decoded), in pairs that
alternate which goes first, all in this one process. Two envs: `py` sees this
interpreter's site-packages, so its pytest loads every plugin installed here; `lean`
is the same suite with third-party plugins left out (PYTEST_DISABLE_PLUGIN_AUTOLOAD), a
smaller denominator for the reporter's cost. Printed: wall time and CPU time (tox's
and pytest's user + system, which a busy machine disturbs less) as medians with min to
max, the on/off ratio per pair (target ≤ 1.03), records per second while pytest ran, and
the latency from a record's timestamp (made in pytest's hook) to its arrival at the
reader, p50 and p99 over every record of every "on" run (target p50 ≤ 20 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from toxbridge.reporter import events  # noqa: E402
from toxbridge.server.channel import ChannelNote, EventChannel  # noqa: E402

TOX_INI = """\
[tox]
env_list = py
[testenv]
skip_install = true
package = skip
system_site_packages = true
commands = python -m pytest -q -p no:cacheprovider tests
[testenv:lean]
set_env = PYTEST_DISABLE_PLUGIN_AUTOLOAD = 1
"""
MODULES = 10


def write_suite(root: Path, tests: int) -> None:
    """Per module: 80 % passing, 5 % failing asserts, 5 % skipped, 10 % parametrized."""
    (root / "tox.ini").write_text(TOX_INI)
    (root / "tests").mkdir()
    per_module = tests // MODULES
    passing, failing, skipped = per_module * 80 // 100, per_module * 5 // 100, per_module // 20
    params = per_module - passing - failing - skipped
    for module in range(MODULES):
        lines = ["import pytest", ""]
        lines += [f"def test_pass_{i}():\n    assert {i} == {i}\n" for i in range(passing)]
        lines += [f"def test_fail_{i}():\n    assert [{i}] == [{i + 1}]\n" for i in range(failing)]
        lines += [
            f"@pytest.mark.skip(reason='not now')\ndef test_skip_{i}():\n    pass\n"
            for i in range(skipped)
        ]
        lines.append(
            f"@pytest.mark.parametrize('n', range({params}))\ndef test_param(n):\n    pass\n"
        )
        (root / "tests" / f"test_module_{module}.py").write_text("\n".join(lines))


@dataclass
class OnRun:
    timing: Timing
    latencies: list[float] = field(default_factory=list)
    rate: float = 0.0
    notes: int = 0


def tox_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "TOXBRIDGE_"))}


@dataclass
class Timing:
    wall: float
    cpu: float  # tox's and its children's (pytest's) user + system time


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


async def tox(root: Path, env_name: str, env: dict[str, str]) -> Timing:
    cpu = children_cpu()
    start = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tox", "-e", env_name, cwd=root, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        await process.wait()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    return Timing(time.perf_counter() - start, children_cpu() - cpu)


async def off(root: Path, env_name: str) -> Timing:
    return await tox(root, env_name, tox_env())


async def on(root: Path, env_name: str) -> OnRun:
    arrivals: list[tuple[float, events.Record]] = []
    notes = 0
    async with EventChannel.open() as channel:

        async def consume() -> None:
            nonlocal notes
            async for item in channel:
                if isinstance(item, ChannelNote):
                    notes += 1
                else:
                    arrivals.append((time.time(), item))

        reader = asyncio.create_task(consume())
        env = {**tox_env(), events.ADDRESS_VARIABLE: channel.address}
        try:
            timing = await tox(root, env_name, env)
        finally:
            await channel.finish()
            await reader
    made = [record.t for _, record in arrivals]
    span = max(made) - min(made) if made else 0.0
    result = OnRun(timing, [arrived - record.t for arrived, record in arrivals], notes=notes)
    result.rate = len(arrivals) / span if span else 0.0
    return result


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def spread(values: list[float], unit: str, digits: int = 3) -> str:
    low, mid, high = min(values), statistics.median(values), max(values)
    return f"{mid:.{digits}f}{unit} ({low:.{digits}f} to {high:.{digits}f})"


async def bench(root: Path, env_name: str, pairs: int) -> None:
    offs: list[Timing] = []
    ons: list[OnRun] = []
    for pair in range(pairs):
        if pair % 2:
            ons.append(await on(root, env_name))
            offs.append(await off(root, env_name))
        else:
            offs.append(await off(root, env_name))
            ons.append(await on(root, env_name))
    latencies = [latency for run in ons for latency in run.latencies]
    notes = sum(run.notes for run in ons)
    print(f"env {env_name}: {len(ons[0].latencies)} records a run, {notes} notes")
    for measure in ("wall", "cpu"):
        off_s = [getattr(plain, measure) for plain in offs]
        on_s = [getattr(run.timing, measure) for run in ons]
        ratios = [a / b for a, b in zip(on_s, off_s, strict=True)]
        print(f"  tox {measure:4}, events off   {spread(off_s, ' s')}")
        print(f"  tox {measure:4}, events on    {spread(on_s, ' s')}")
        print(f"  {measure:4} on/off ratio      {spread(ratios, 'x')}  target <= 1.03x")
    print(
        f"  records per second     {statistics.median(run.rate for run in ons):,.0f} (median run)"
    )
    p50, p99 = quantile(latencies, 0.5) * 1000, quantile(latencies, 0.99) * 1000
    print(f"  latency p50 / p99      {p50:.2f} / {p99:.2f} ms  target p50 <= 20 ms")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=7)
    parser.add_argument("--tests", type=int, default=2000)
    parser.add_argument("--env", action="append", choices=["py", "lean"])
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-reporter-") as temp:
        root = Path(temp)
        write_suite(root, options.tests)
        envs = options.env or ["py", "lean"]
        create = [sys.executable, "-m", "tox", "-e", ",".join(envs), "--notest"]
        # before any timing: blocking the loop here costs nothing
        subprocess.run(create, cwd=root, env=tox_env(), check=True, stdout=subprocess.DEVNULL)  # noqa: ASYNC221
        print(f"{options.tests} tests, {options.pairs} pairs per env\n")
        for env_name in envs:
            await on(root, env_name)  # warm the caches once, for both sides
            await bench(root, env_name, options.pairs)


if __name__ == "__main__":
    asyncio.run(main())
