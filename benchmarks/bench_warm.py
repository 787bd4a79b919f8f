"""Warm tox benchmark: `toxbridge run` against a warm and a cold server vs plain tox.

Run: `python benchmarks/bench_warm.py [--pairs N]`. It builds the tests' sample tox
project in a temp dir (envs created first), starts a warm `toxbridge serve` and a
`--cold` one on free 127.0.0.1 ports, and times each command against plain `tox` in
pairs, alternating which goes first, in this one process. Ratios are per pair, reported
as median with min and max; the Markdown table at the end is the one the README quotes.
Wall time of `toxbridge run` includes the client's own start-up (a Python process
importing zmq); the "connected client" rows time a run from a client that is already
connected, as the editor bridge is, from `run` sent to `exit` received.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import free_port, make_project, wait_serving  # noqa: E402
from toxbridge.config import parse_endpoint  # noqa: E402
from toxbridge.net.client import Client  # noqa: E402

BIN = Path(sys.executable).parent
TOX = [str(BIN / "tox")]  # console scripts on both sides, so start-up costs compare fairly
TOXBRIDGE = [str(BIN / "toxbridge")]
TARGET = 0.7

# The sample's envs see this interpreter's site-packages, so its pytest loads every
# plugin installed here (hypothesis, pytest-lsp, asyncio, ...): slower than a project's own
# venv with pytest alone. `lean` is the same tests with third-party plugins left out.
LEAN_SWITCH = "PYTEST_DISABLE_PLUGIN_AUTOLOAD"
LEAN_ENV = f"""
[testenv:lean]
set_env = {LEAN_SWITCH} = 1
commands = python -m pytest -q -p no:cacheprovider {{posargs:test_sample.py}}
"""
FLOOR_ARGS = ("-m", "pytest", "-q", "-p", "no:cacheprovider", "test_sample.py")


@dataclass(frozen=True, slots=True)
class Row:
    name: str
    ours: tuple[float, ...]
    tox: tuple[float, ...]
    target: float | None

    def markdown(self) -> str:
        ratios = [a / b for a, b in zip(self.ours, self.tox, strict=True)]
        mid = statistics.median(ratios)
        met = "" if self.target is None else ("yes" if mid <= self.target else "**no**")
        target = "" if self.target is None else f"≤ {self.target:g}x"
        return (
            f"| {self.name} | {statistics.median(self.ours):.3f} s "
            f"| {statistics.median(self.tox):.3f} s | {mid:.2f}x "
            f"| {min(ratios):.2f}x to {max(ratios):.2f}x | {target} | {met} |"
        )


def timed(argv: Sequence[str], cwd: Path, extra_env: Mapping[str, str] | None = None) -> float:
    env = {**os.environ, **extra_env} if extra_env else None
    start = time.perf_counter()
    subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def pairs(
    ours: Callable[[], float], theirs: Callable[[], float], n: int
) -> tuple[list[float], list[float]]:
    ours(), theirs()  # warm-up: page cache, the worker's first fork
    a: list[float] = []
    b: list[float] = []
    for i in range(n):
        if i % 2:
            b.append(theirs())
            a.append(ours())
        else:
            a.append(ours())
            b.append(theirs())
    return a, b


class Connected:
    """A client connected once, in its own event loop, timing one run per call."""

    def __init__(self, endpoint: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.client = Client(parse_endpoint(endpoint), timeout=30)
        self.loop.run_until_complete(self.client.__aenter__())

    def __call__(self, args: Sequence[str]) -> float:
        return self.loop.run_until_complete(self._run(args))

    async def _run(self, args: Sequence[str]) -> float:
        start = time.perf_counter()
        async with self.client.run(list(args)) as remote:
            async for _ in remote:
                pass
        return time.perf_counter() - start

    def close(self) -> None:
        self.loop.run_until_complete(self.client.__aexit__(None, None, None))
        self.loop.close()


def start_server(root: Path, *extra: str) -> tuple[subprocess.Popen[bytes], str]:
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    process = subprocess.Popen(
        [*TOXBRIDGE, "serve", "--endpoint", endpoint, "--root", str(root), *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_serving(endpoint, timeout=30)
    return process, endpoint


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-warm-") as tmp:
        root = make_project(Path(tmp) / "project")
        with (root / "tox.ini").open("a") as tox_ini:
            tox_ini.write(LEAN_ENV)
        env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
        subprocess.run(
            [*TOX, "run", "-e", "py,echo,lean", "--notest"],
            cwd=root,
            check=True,
            capture_output=True,
            env=env,
        )
        warm, warm_at = start_server(root)
        cold, cold_at = start_server(root, "--cold")
        connected = {at: Connected(at) for at in (warm_at, cold_at)}
        try:
            rows = []
            cases = [
                ("`-e py` (pytest, 1 failure), warm", warm_at, ["-e", "py"], TARGET),
                ("`-l` (list envs), warm", warm_at, ["-l"], None),
                ("`-e echo` (one `python -c`), warm", warm_at, ["-e", "echo"], None),
                ("`-e lean` (pytest, no third-party plugins), warm", warm_at, ["-e", "lean"], None),
                ("`-e py`, cold (`--cold`)", cold_at, ["-e", "py"], None),
                ("`-l`, cold (`--cold`)", cold_at, ["-l"], None),
            ]
            for name, endpoint, tox_args, target in cases:
                cli = [*TOXBRIDGE, "run", "--endpoint", endpoint, *tox_args]
                tox = [*TOX, *tox_args]
                a, b = pairs(partial(timed, cli, root), partial(timed, tox, root), args.pairs)
                rows.append(Row(name, tuple(a), tuple(b), target))
                print(rows[-1].markdown(), file=sys.stderr, flush=True)
                client = connected[endpoint]
                a, b = pairs(partial(client, tox_args), partial(timed, tox, root), args.pairs)
                rows.append(Row(f"{name}, connected client", tuple(a), tuple(b), None))
                print(rows[-1].markdown(), file=sys.stderr, flush=True)
            for env_name, lean in (("py", {}), ("lean", {LEAN_SWITCH: "1"})):
                floor = [str(root / ".tox" / env_name / "bin" / "python"), *FLOOR_ARGS]
                a, b = pairs(
                    partial(timed, floor, root, lean),
                    partial(timed, [*TOX, "-e", env_name], root),
                    args.pairs,
                )
                name = f"`-e {env_name}`'s pytest command alone (the floor)"
                rows.append(Row(name, tuple(a), tuple(b), None))
        finally:
            for client in connected.values():
                client.close()
            for process in (warm, cold):
                process.terminate()
                process.wait(timeout=20)
    print(f"\n{args.pairs} pairs each, alternating order; {os.cpu_count()} CPUs.\n")
    print(
        "| `toxbridge run …` vs `tox …` | toxbridge median | tox median | ratio median "
        "| ratio min to max | target | met |"
    )
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        print(row.markdown())


if __name__ == "__main__":
    main()
