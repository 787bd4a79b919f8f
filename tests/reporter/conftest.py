"""Real tox runs of the sample project with a real event channel, and pytest's own truth.

The sample's envs are created once per session, the ones with downloads (pytest 7 on
Python 3.9, pytest 8 on 3.13, pytest-xdist and pytest-reportlog) included. What a test
compares the records with comes from pytest itself: its terminal output (`-rA`'s short
summary, the counts line) and pytest-reportlog's file from the same run.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import pytest

from tests.reporter.samples import FILES
from toxbridge.reporter import events
from toxbridge.server.channel import ChannelNote, EventChannel

TOX_TIMEOUT_S = 100
R = TypeVar("R", bound=events.Header)
REPORTLOG = {events.REPORTLOG_VARIABLE: "1"}


def pyenv_python(version: str) -> str | None:
    try:
        root = subprocess.run(["pyenv", "root"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    minor = ".".join(version.split(".")[:2])
    path = Path(root.stdout.strip(), "versions", version, "bin", f"python{minor}")
    return str(path) if path.exists() else None


PY39 = pyenv_python("3.9.18")
PY313 = pyenv_python("3.13.0")


# Envs with a pytest and a Python of their own (not this interpreter's): they must not get
# the suite's TOX_OVERRIDE (tests/conftest.py), which puts this interpreter's site-packages
# on PYTHONPATH for envs that use them through system_site_packages.
OWN_PYTEST = frozenset({"p7", "p8"})


def selected_envs(args: Sequence[str]) -> list[str]:
    """The envs that tox `args` name with `-e` (none: the default envs)."""
    names = [args[i + 1] for i, arg in enumerate(args[:-1]) if arg == "-e"]
    return [name for value in names for name in value.split(",")] or ["<default>"]


def suite_pythonpath() -> str | None:
    """The PYTHONPATH a system-site-packages sample env has without the reporter: what the
    suite's TOX_OVERRIDE gives it, if anything."""
    override = os.environ.get("TOX_OVERRIDE", "")
    prefix = "testenv.set_env+=PYTHONPATH="
    return override[len(prefix) :] if override.startswith(prefix) else None


def base_env(args: Sequence[str] = ()) -> dict[str, str]:
    """tox's environment in these tests: ours, without what would leak into the sample."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "TOXBRIDGE_"))}
    env.pop("PYTHONPATH", None)
    if set(selected_envs(args)) <= OWN_PYTEST:
        env.pop("TOX_OVERRIDE", None)
    env["TOXBRIDGE_TEST_PY39"] = PY39 or "python3.9"
    env["TOXBRIDGE_TEST_PY313"] = PY313 or "python3.13"
    return env


@dataclass
class ToxRun:
    code: int
    stdout: str
    stderr: str
    records: list[events.Record] = field(default_factory=list)
    notes: list[ChannelNote] = field(default_factory=list)

    def of(self, kind: type[R], env: str | None = None) -> list[R]:
        return [r for r in self.records if isinstance(r, kind) and env in (None, r.env)]

    def reports(self, env: str | None = None) -> list[events.Report]:
        return self.of(events.Report, env)

    def report(self, nodeid: str, when: str = "call") -> events.Report:
        (found,) = (r for r in self.reports() if r.nodeid.endswith(nodeid) and r.when == when)
        return found


async def run_tox(
    root: Path,
    *args: str,
    events_on: bool = True,
    address: str | None = None,
    env: Mapping[str, str] | None = None,
) -> ToxRun:
    """`python -m tox ARGS` in `root`; with events, TOXBRIDGE_EVENTS is a fresh channel's
    (or `address`), and every record it received comes back with the output."""
    tox_env = {**base_env(args), **(env or {})}
    if not events_on:
        return await _tox(root, args, tox_env)
    if address is not None:
        return await _tox(root, args, {**tox_env, events.ADDRESS_VARIABLE: address})
    async with EventChannel.open() as channel:
        received: list[events.Record | ChannelNote] = []

        async def consume() -> None:
            async for item in channel:
                received.append(item)

        async with asyncio.TaskGroup() as group:
            reader = group.create_task(consume())
            try:
                run = await _tox(root, args, {**tox_env, events.ADDRESS_VARIABLE: channel.address})
            finally:
                await channel.finish()
            await reader
    run.records = [item for item in received if not isinstance(item, ChannelNote)]
    run.notes = [item for item in received if isinstance(item, ChannelNote)]
    return run


async def _tox(root: Path, args: Sequence[str], env: Mapping[str, str]) -> ToxRun:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tox", *args,
        cwd=root, env=dict(env), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    try:
        async with asyncio.timeout(TOX_TIMEOUT_S):
            stdout, stderr = await process.communicate()
    finally:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, 9)
            await process.wait()
    return ToxRun(process.returncode or 0, stdout.decode(), stderr.decode())


def write_sample(root: Path) -> Path:
    for name, text in FILES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def create_envs(root: Path, envs: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tox", "run", "-e", envs, "--notest"],
        cwd=root, env=base_env(("-e", envs)), capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"creating {envs} failed:\n{done.stdout}\n{done.stderr}")


@pytest.fixture(scope="session")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample project with its envs that need no downloads."""
    root = write_sample(tmp_path_factory.mktemp("sample"))
    create_envs(root, "py,other,user,plain")
    return root


@pytest.fixture(scope="session")
def outcomes(sample: Path) -> ToxRun:
    """One run of the sample's outcomes suite in the `py` env, with -rA, reportlog data on."""
    return asyncio.run(run_tox(sample, "-e", "py", env=REPORTLOG))


@pytest.fixture(scope="session")
def downloaded(sample: Path) -> Path:
    """The same project's envs with packages from PyPI: xdist, pytest 7 and 8."""
    if PY39 is None or PY313 is None:
        pytest.skip("pyenv's Python 3.9.18 and 3.13.0 are needed (see EDITOR-TESTING.md)")
    create_envs(sample, "xdist")
    create_envs(sample, "p7,p8")
    return sample


_SUMMARY = re.compile(r"^=*\s*(\d+ \w+(?:, \d+ \w+)*) in [\d.]+s", re.MULTILINE)
_COUNT = re.compile(r"(\d+) (\w+)")
_SHORT = re.compile(r"^(PASSED|FAILED|ERROR|XFAIL|XPASS) (\S+)", re.MULTILINE)
_SKIPPED = re.compile(r"^SKIPPED \[\d+\] (\S+:\d+):", re.MULTILINE)
_NOT_OUTCOMES = ("warning", "warnings", "deselected")


def summary_counts(output: str) -> list[dict[str, int]]:
    """Each pytest summary line in the output ("2 failed, 1 passed in 0.1s") as counts."""
    found = []
    for line in _SUMMARY.findall(output):
        counts = {word: int(n) for n, word in _COUNT.findall(line) if word not in _NOT_OUTCOMES}
        if "errors" in counts:
            counts["error"] = counts.pop("errors")
        found.append(counts)
    return found


def short_summary(output: str) -> Counter[tuple[str, str]]:
    """`-rA`'s short test summary: (word, node id) pairs; a skip's node is its path:line."""
    found = Counter(_SHORT.findall(output))
    found.update(("SKIPPED", site) for site in _SKIPPED.findall(output))
    return found


WORDS = {
    "passed": "PASSED",
    "failed": "FAILED",
    "error": "ERROR",
    "xfailed": "XFAIL",
    "xpassed": "XPASS",
    "skipped": "SKIPPED",
}


def as_short_summary(run: ToxRun, env: str | None = None) -> list[tuple[str, str]]:
    """The records as `-rA`'s short summary would list them (see `short_summary`)."""
    (session, *_) = run.of(events.Session, env)
    found = []
    for report in run.reports(env):
        if report.when != "call" and report.outcome == "passed":
            continue  # pytest's summary counts a passed setup or teardown nowhere
        if report.outcome == "skipped" and report.crash is not None:
            path = os.path.relpath(report.crash.path, session.invocation_dir)
            found.append(("SKIPPED", f"{path}:{report.crash.line}"))
        else:
            found.append((WORDS[report.outcome], report.nodeid))
    return found
