"""Tests in the editor, timed: the "edit → result" loop for one test and discovery.

Run: `python benchmarks/bench_tests.py [--rounds N] [--tests N]`. Two tox projects in a
temp dir, the tests' sample (two tests) and a generated suite (2,000 tests by default,
bench_reporter.py's), each with a real `toxbridge serve` (warm) and a real `toxbridge lsp`
driven by pytest-lsp's client. Printed as medians (min to max):
- one test through the bridge: from sending `tox/runTests` with its id to the
  `tox/testResults` notification with its final state, against plain
  `python -m tox -e py -- <that id>` and plain `python -m tox -e py` (the whole env);
- discovery through the bridge (`tox/discover` with `refresh`) against
  `python -m pytest --collect-only -q` run directly on the same tests.
Each round runs the bridge's measure and its baseline back to back; ratios are the median
of the rounds' ratios.
Each project is measured twice: as the tests make it (its env sees this interpreter's
packages, so pytest loads every plugin installed here: hypothesis, pytest-asyncio,
pytest-lsp, ...) and lean, as a project's own venv is (`deps = pytest`, installed from the
machine's package index once, before timing; "directly" is then that venv's pytest).
The client takes `tox/discover`'s answer as plain JSON, as an editor does: pygls's client
would otherwise make an object of every JSON object of an untyped result, which for the
2,000-test tree costs the measuring client itself about a second.
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
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import attrs  # noqa: E402
from bench_bridge import close_bridge, open_bridge, request  # noqa: E402
from bench_reporter import write_suite  # noqa: E402
from pytest_lsp import LanguageClient  # noqa: E402

from tests.conftest import create_envs, make_project, site_packages_override, start_server  # noqa: E402

SUITE_INI = """\
[tox]
env_list = py
[testenv]
skip_install = true
package = skip
system_site_packages = true
commands = python -m pytest -q -p no:cacheprovider {posargs:tests}
"""
LEAN_INI = """\
[tox]
env_list = py
[testenv]
skip_install = true
package = skip
deps = pytest
commands = python -m pytest -q -p no:cacheprovider {posargs:%s}
"""
FINAL = {"passed", "failed", "errored", "skipped"}


def spread(values: Sequence[float]) -> str:
    return f"{statistics.median(values):.2f} s ({min(values):.2f} to {max(values):.2f})"


def timed(command: Sequence[str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


class Results:
    """When each test id first reached a final state, per run."""

    def __init__(self, client: LanguageClient) -> None:
        self.arrived: dict[tuple[str, str], float] = {}
        self.event = asyncio.Event()
        # pygls registers plain functions only (it sets attributes on them)
        client.feature("tox/testResults")(lambda params: self._results(params))
        for method in ("tox/testRun", "tox/watch", "workspace/codeLens/refresh"):
            client.feature(method)(lambda params: None)

    def _results(self, params: Any) -> None:
        now = time.perf_counter()
        for entry in params.results:
            if entry.state in FINAL:
                self.arrived.setdefault((params.runId, entry.id), now)
        self.event.set()

    async def wait(self, test_id: str, after: float) -> float:
        while True:
            found = [t for (_, i), t in self.arrived.items() if i == test_id and t > after]
            if found:
                return min(found)
            self.event.clear()
            await self.event.wait()


async def loop(client: LanguageClient, results: Results, test_id: str, rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        sent = time.perf_counter()
        answer = asyncio.ensure_future(request(client, "tox/runTests", {"ids": [test_id]}))
        times.append(await results.wait(test_id, sent) - sent)
        await answer
    return times


@attrs.define
class PlainResponse:
    """A JSON-RPC response whose result stays the dicts and lists JSON gave."""

    id: int | str
    result: dict[str, Any]
    jsonrpc: str = "2.0"


def plain_results(client: LanguageClient, method: str) -> None:
    typed = client.protocol.get_result_type

    def result_type(name: str) -> type[Any] | None:
        return PlainResponse if name == method else typed(name)

    client.protocol.get_result_type = result_type  # type: ignore[assignment]  # an lru_cache


async def discovery(client: LanguageClient, rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        await request(client, "tox/discover", {"env": "py", "refresh": True})
        times.append(time.perf_counter() - started)
    return times


def lean(root: Path, tests: str) -> Path:
    """`root`'s tests in a venv of their own with only pytest in it."""
    (root / "tox.ini").write_text(LEAN_INI % tests)
    return create_envs(root, "py")


def sees_this_interpreter(on: bool) -> None:
    """Whether the toxes started from here on (server, plain) add this interpreter's
    site-packages to their envs' PYTHONPATH, as the tests' projects need."""
    if on:
        os.environ["TOX_OVERRIDE"] = site_packages_override()
    else:
        os.environ.pop("TOX_OVERRIDE", None)


async def bench(
    name: str, root: Path, node: str, tests: str, rounds: int, log: Path, python: str
) -> None:
    """Each round times the bridge and its baseline back to back (the machine's speed drifts
    by a third over minutes); ratios are per round, then their median."""
    tox = [sys.executable, "-m", "tox", "-e", "py"]
    collect = [python, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", tests]
    one: list[float] = []
    plain_one: list[float] = []
    found: list[float] = []
    direct: list[float] = []
    server = start_server(root, log)
    try:
        client, _ = await open_bridge(root, server.endpoint)
        results = Results(client)
        plain_results(client, "tox/discover")
        try:
            await request(client, "tox/discover", {"env": "py"})  # warm both sides up
            for _ in range(rounds):
                one += await loop(client, results, f"py|{node}", 1)
                plain_one.append(timed([*tox, "--", node], root))
                found += await discovery(client, 1)
                direct.append(timed(collect, root))
        finally:
            await close_bridge(client)
    finally:
        server.stop()
    plain_all = [timed(tox, root) for _ in range(rounds)]
    ratio = statistics.median(a / b for a, b in zip(one, plain_one, strict=True))
    found_ratio = statistics.median(a / b for a, b in zip(found, direct, strict=True))
    print(f"## {name}")
    print(f"| one test through the bridge (request → result) | {spread(one)} |")
    print(f"| plain tox -e py -- <that id> | {spread(plain_one)} | ratio {ratio:.2f} |")
    print(f"| plain tox -e py (whole env) | {spread(plain_all)} |")
    print(f"| tox/discover (refresh) | {spread(found)} |")
    print(f"| pytest --collect-only directly | {spread(direct)} | ratio {found_ratio:.2f} |")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tests", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tb-bench-tests-") as base:
        log = Path(base) / "server.log"
        sample = make_project(Path(base) / "sample")
        suite = Path(base) / "suite"
        suite.mkdir()
        write_suite(suite, args.tests)
        (suite / "tox.ini").write_text(SUITE_INI)
        sample_test, suite_test = (
            "test_sample.py::test_fails",
            "tests/test_module_0.py::test_fail_0",
        )
        sees_this_interpreter(True)
        create_envs(sample, "py")
        create_envs(suite, "py")
        await bench(
            "sample", sample, sample_test, "test_sample.py", args.rounds, log, sys.executable
        )
        await bench(
            f"{args.tests} tests", suite, suite_test, "tests", args.rounds, log, sys.executable
        )
        sees_this_interpreter(False)
        for project, tests, test_id, title in (
            (sample, "test_sample.py", sample_test, "sample, lean venv"),
            (suite, "tests", suite_test, f"{args.tests} tests, lean venv"),
        ):
            python = str(lean(project, tests) / ".tox" / "py" / "bin" / "python")
            await bench(title, project, test_id, tests, args.rounds, log, python)


if __name__ == "__main__":
    asyncio.run(main())
