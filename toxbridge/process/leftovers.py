"""Processes a run leaves behind, outside tox's process group: find them, name them, end them.

A process that leaves the group (`setsid`, `start_new_session=True`, a double fork)
escapes the group's signals. But the server is a child subreaper (PR_SET_CHILD_SUBREAPER):
once its parents are gone, such a process becomes the server's child. So after a run's
group is gone, the server's children that were not its children when the run started
(and are not its warm worker) are what the run left, together with their descendants.
One tox runs at a time, so nothing else can have put them there.

Linux only, from /proc; elsewhere nothing is found. The standard library only.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import signal
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

PROC = Path("/proc")
REAP_WITHIN_S = 1.0
_PR_GET_CHILD_SUBREAPER = 37


@dataclass(frozen=True, slots=True)
class Proc:
    """A process, told apart from a later one with the same pid by its start time."""

    pid: int
    started: int  # clock ticks since boot (/proc/PID/stat field 22)

    def describe(self) -> str:
        try:
            argv = (PROC / str(self.pid) / "cmdline").read_bytes().split(b"\0")
        except OSError:
            return str(self.pid)
        command = " ".join(part.decode(errors="replace") for part in argv if part)
        if len(command) > 60:
            command = command[:57] + "..."
        return f"{self.pid} ({command})" if command else str(self.pid)


@functools.cache
def _prctl() -> Any:
    import ctypes

    return ctypes.CDLL(None, use_errno=True).prctl


def is_subreaper() -> bool:
    """True when orphaned descendants become this process's children."""
    import ctypes

    flag = ctypes.c_int(0)
    try:
        if _prctl()(_PR_GET_CHILD_SUBREAPER, ctypes.byref(flag), 0, 0, 0) != 0:
            return False
    except (OSError, AttributeError):
        return False
    return flag.value != 0


def _stat(pid: int) -> tuple[int, str, int] | None:
    """(parent pid, state, start time) of `pid`, or None once it is gone."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:  # ESRCH too: it went while we read
        return None
    fields = text.rpartition(")")[2].split()
    return int(fields[1]), fields[0], int(fields[19])


def children_of(parents: Iterable[int]) -> dict[int, list[Proc]]:
    """The live (not zombie) children of each of `parents`."""
    found: dict[int, list[Proc]] = {}
    for parent, pids in _child_pids(parents).items():
        found[parent] = []
        for pid in pids:
            stat = _stat(pid)
            if stat is not None and stat[0] == parent and stat[1] not in ("Z", "X"):
                found[parent].append(Proc(pid, stat[2]))
    return found


def _child_pids(parents: Iterable[int]) -> dict[int, set[int]]:
    """Child pids (zombies too) per parent: from /proc/PID/task/*/children where the kernel
    has it (CONFIG_PROC_CHILDREN), else from one pass over every process's stat."""
    wanted = set(parents)
    if not _HAS_CHILDREN_FILES:
        return _child_pids_by_scan(wanted)
    found: dict[int, set[int]] = {parent: set() for parent in wanted}
    for parent in wanted:
        for children in (PROC / str(parent) / "task").glob("*/children"):
            with contextlib.suppress(OSError):
                found[parent].update(int(pid) for pid in children.read_text().split())
    return found


def _child_pids_by_scan(wanted: set[int]) -> dict[int, set[int]]:
    found: dict[int, set[int]] = {parent: set() for parent in wanted}
    for entry in PROC.iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) and stat[0] in wanted:
            found[stat[0]].add(int(entry.name))
    return found


_HAS_CHILDREN_FILES = any((PROC / "self" / "task").glob("*/children"))


def snapshot() -> frozenset[Proc]:
    """This process's children now: what a run did not start."""
    return frozenset(children_of([os.getpid()])[os.getpid()])


def reap_adopted(exclude: Iterable[int] = ()) -> int:
    """Reap our children that have exited, but those in `exclude` (which asyncio waits
    for); returns how many. An orphan that exits during a run becomes our zombie."""
    skip, count = set(exclude), 0
    for pid in _child_pids([os.getpid()])[os.getpid()] - skip:
        stat = _stat(pid)
        if stat is not None and stat[1] == "Z":
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)  # a zombie: never blocks
                count += 1
    return count


def find(before: frozenset[Proc], exclude: Iterable[int] = ()) -> list[Proc]:
    """What a run left: children adopted since `before` (not `exclude`) and their trees."""
    skip = set(exclude)
    roots = [p for p in snapshot() if p not in before and p.pid not in skip]
    return with_descendants(roots)


def with_descendants(roots: list[Proc]) -> list[Proc]:
    found, frontier = list(roots), [p.pid for p in roots]
    while frontier:
        below = [child for kids in children_of(frontier).values() for child in kids]
        found += below
        frontier = [p.pid for p in below]
    return found


def alive(processes: Iterable[Proc]) -> list[Proc]:
    """Those of `processes` that still run (same pid and start time, not a zombie)."""
    still = []
    for proc in processes:
        stat = _stat(proc.pid)
        if stat is not None and stat[2] == proc.started and stat[1] not in ("Z", "X"):
            still.append(proc)
    return still


async def kill(processes: list[Proc]) -> None:
    """SIGKILL `processes` (and what they started meanwhile), and reap those that are ours."""
    for _ in range(3):  # a process may fork between the scan and the signal
        targets = alive(with_descendants(alive(processes)))
        for proc in targets:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(proc.pid, signal.SIGKILL)
        if not targets:
            break
    await reap(processes)


async def reap(processes: Iterable[Proc], within: float = REAP_WITHIN_S) -> list[Proc]:
    """Reap those of `processes` that have exited and are our children; the rest."""
    pending = list(processes)
    deadline = time.monotonic() + within
    while pending:
        for proc in list(pending):
            if _reaped(proc):
                pending.remove(proc)
        if not pending or time.monotonic() >= deadline:
            break
        await asyncio.sleep(0.005)  # a killed process takes a moment to become a zombie
    return pending


def _reaped(proc: Proc) -> bool:
    stat = _stat(proc.pid)
    if stat is None or stat[2] != proc.started:
        return True  # gone, reaped by someone
    if stat[0] != os.getpid() or stat[1] != "Z":
        return False  # still running, or not ours (yet: its parent is dying)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(proc.pid, os.WNOHANG)  # a zombie: never blocks
    return True
