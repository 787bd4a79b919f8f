"""Progress and summary lines: what the progress bar shows, and the final counts."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from toxbridge.diagnostics.model import RunStatus

_PERCENT = re.compile(r"\[\s*(\d+)%\]$")
_VERBOSE = re.compile(r"(\S.*?::.*?) (PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS)\b")
_XDIST = re.compile(r"\[gw\d+\] \[\s*(\d+)%\] (PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS) (.+?)\s*$")
_COUNT = re.compile(r"(\d+) (failed|passed|errors?)\b")
# `25 failed, 6 passed, 1 xfailed in 0.69s` (with or without `=` around it), `no tests ran`
STATS = re.compile(r"(?:\d+ \w+(?:, \d+ \w+)*|no tests ran) in [\d.]+s(?: \([\d:]+\))?$")
TOX_COMMAND = re.compile(r"(\S+): commands(?:_pre|_post)?\[\d+\]> ")


@dataclass(frozen=True, slots=True)
class ProgressLine:
    """One progress line: the node id it names (verbose modes) and what it adds."""

    nodeid: str | None
    passed: int
    failed: int
    percent: int


def parse_progress(line: str) -> ProgressLine | None:
    """`tests/t.py ..F [ 45%]`, `tests/t.py::t PASSED [ 45%]` or xdist's `[gw0] [ 45%] …`."""
    if line.startswith("[gw"):
        xdist = _XDIST.match(line)
        if xdist is None:
            return None
        return _verbose(xdist.group(3), xdist.group(2), int(xdist.group(1)))
    match = _PERCENT.search(line)
    if match is None:
        return None
    percent = int(match.group(1))
    if "::" in line:
        verbose = _VERBOSE.match(line)
        if verbose is not None:
            return _verbose(verbose.group(1), verbose.group(2), percent)
    # The letters never contain spaces; a file name before them may contain an F.
    letters = line[: match.start()].rstrip().rpartition(" ")[2]
    failed = letters.count("F") + letters.count("E")
    return ProgressLine(None, letters.count("."), failed, percent)


def _verbose(nodeid: str, word: str, percent: int) -> ProgressLine:
    failed = 1 if word in ("FAILED", "ERROR") else 0
    return ProgressLine(nodeid, 1 if word == "PASSED" else 0, failed, percent)


def apply_progress(status: RunStatus, progress: ProgressLine) -> RunStatus:
    return replace(
        status,
        passed=status.passed + progress.passed,
        failed=status.failed + progress.failed,
        percent=progress.percent,
    )


def apply_stats(status: RunStatus, line: str) -> RunStatus:
    """The final `N failed, M passed …` line has the exact counts."""
    counts = {"passed": 0, "failed": 0}
    for number, word in _COUNT.findall(line):
        key = "passed" if word == "passed" else "failed"
        counts[key] += int(number)
    return replace(status, passed=counts["passed"], failed=counts["failed"], percent=100)
