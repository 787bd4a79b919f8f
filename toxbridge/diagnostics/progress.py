"""Progress and summary lines: what the progress bar shows, and the final counts."""

from __future__ import annotations

import re

_PERCENT = re.compile(r"\[\s*(\d+)%\]$")
_VERBOSE = re.compile(r"(\S.*?::.*?) (PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS)\b")
_XDIST = re.compile(r"\[gw\d+\] \[\s*(\d+)%\] (PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS) (.+?)\s*$")
_COUNT = re.compile(r"(\d+) (failed|passed|errors?)\b")
# `25 failed, 6 passed, 1 xfailed in 0.69s` (with or without `=` around it), `no tests ran`
STATS = re.compile(r"(?:\d+ \w+(?:, \d+ \w+)*|no tests ran) in [\d.]+s(?: \([\d:]+\))?$")
TOX_COMMAND = re.compile(r"(\S+): commands(?:_pre|_post)?\[\d+\]> ")


# (node id shown in verbose modes, passed, failed, percent): a plain tuple because a
# verbose log has one progress line per test and this is the parser's hottest path.
Progress = tuple[str | None, int, int, int]


def parse_progress(line: str) -> Progress | None:
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
    return None, letters.count("."), failed, percent


def _verbose(nodeid: str, word: str, percent: int) -> Progress:
    failed = 1 if word in ("FAILED", "ERROR") else 0
    return nodeid, 1 if word == "PASSED" else 0, failed, percent


def final_counts(line: str) -> tuple[int, int]:
    """(passed, failed) from the final `N failed, M passed …` line; errors count as failed."""
    passed = failed = 0
    for number, word in _COUNT.findall(line):
        if word == "passed":
            passed += int(number)
        else:
            failed += int(number)
    return passed, failed
