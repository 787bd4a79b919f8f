"""One pytest session's failures: naming their tests, and matching them to the summary.

A failure block names its test only by the part of the node id after the file
(`TestK.test_m[1]`). The file comes from the verbose progress when it shows the test, else
from the traceback's frames; a setup or teardown error's traceback runs through the
fixture (often in a `conftest.py`), not the test, so such a block waits for the short
summary's `ERROR tests/t.py::test_m - …` to name it. The summary also gives a diagnostic
to failures that printed no location (`--tb=no`, `XPASS(strict)`) and names `--tb=line`'s
crash lines.
"""

from __future__ import annotations

import re
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from toxbridge.diagnostics.block import (
    BlockKind,
    Crash,
    FailureBlock,
    location,
    nodeid_suffix,
    split_summary,
)
from toxbridge.diagnostics.model import Location
from toxbridge.diagnostics.paths import PathMapper, is_project_path, relative_to

_TEST_FILE = re.compile(r"(?:^|[/\\])(?:test_[^/\\]*|[^/\\]*_test)\.py$")
_DOCTEST_LINE = re.compile(r"\d{3,} ")
_CUT = 50  # characters of a doctest report that `--tb=line` shows
# (path, line, message, test, definition) → one diagnostic out
Emit = Callable[[str, int, str, "str | None", "Location | None"], None]


@dataclass(frozen=True, slots=True)
class _LineItem:
    """One `--tb=line` crash line, held until the short summary names its test."""

    path: str | None
    line: int
    message: str


class _Waiting(NamedTuple):
    """A failure whose test id is a guess, held until the short summary names it."""

    crash: Crash
    message: str
    block: FailureBlock
    test: str | None  # the guess, used if no summary line comes


class Session:
    """Per pytest session, so that memory does not grow with the number of sessions."""

    def __init__(self, mapper: PathMapper, rootdir: str | None, emit: Emit) -> None:
        self._mapper = mapper
        self.rootdir = rootdir
        self._emit = emit
        self._emitted: Counter[str | None] = Counter()
        self._unlocated: dict[str, str] = {}
        self._known: dict[str, list[str]] = {}
        self._line_items: deque[_LineItem] = deque()
        # blocks whose test id the output does not show, by summary word and id suffix
        self._waiting: dict[tuple[str, str], deque[_Waiting]] = {}
        self._last_orphan = ""
        self._doctest: int | None = None  # characters of a doctest's report so far
        self._doctest_whole = False  # a doctest's whole report just ended
        self._last_conftest: tuple[str, int, str] | None = None

    def shown(self, nodeid: str) -> None:
        """A test id the verbose progress showed."""
        known = self._known.setdefault(nodeid.partition("::")[2], [])
        if nodeid not in known:
            known.append(nodeid)

    def block(self, block: FailureBlock) -> None:
        crash = block.crash()
        suffix = nodeid_suffix(block.title, block.kind)
        if crash is None:
            # The summary line will name the test; keep the fuller message for it.
            self._unlocated[suffix] = block.message()
            return
        if block.kind is BlockKind.CONFTEST:
            site = (crash.path, crash.line, crash.message)
            if site != self._last_conftest:
                self._emit(crash.path, crash.line, crash.message, None, None)
            self._last_conftest = site
            return
        test, certain = self._test_id(block, suffix)
        message = f"{crash.message}\nsubtest {block.subtest}" if block.subtest else crash.message
        if not certain:
            word = "ERROR" if block.kind in (BlockKind.SETUP, BlockKind.TEARDOWN) else "FAILED"
            self._waiting.setdefault((word, suffix), deque()).append(
                _Waiting(crash, message, block, test)
            )
            return
        self._emit(crash.path, crash.line, message, test, self._definition(block, test))
        self._emitted[test] += 1

    def orphan_line(self, line: str) -> None:
        """FAILURES without headers: `--tb=line` prints one crash line per failure.

        A doctest has no crash line: pytest prints the first 50 characters of its report
        (numbered source lines), after its whole report with its location in some versions.
        """
        if self._doctest is None and _DOCTEST_LINE.match(line):
            self._doctest = -1
        if self._doctest is not None:
            self._doctest += 1 + len(line)
            if self._doctest == _CUT:
                # The cut report: a doctest of its own, unless its whole report came first.
                if not self._doctest_whole:
                    self._line_items.append(_LineItem(None, 0, ""))
                self._doctest, self._doctest_whole = None, False
                return
        if line.startswith("[XPASS(strict)]"):
            if line != self._last_orphan:
                self._line_items.append(_LineItem(None, 0, line))
        elif line[:1] == "E" and self._doctest is None:
            self._doctest_whole = False
        elif line[:1] not in (" ", "E", "") and (line[0] != "<" or self._doctest is None):
            # `<frozen importlib._bootstrap>:1140: …` is a crash line too (outside the project).
            match = location(line)
            if match:
                path, number, message = match.group(1), int(match.group(2)), match.group(3)
                self._line_items.append(_LineItem(path, number, message or ""))
                self._doctest_whole = self._doctest is not None
                self._doctest = None
        self._last_orphan = line

    def summary_entry(self, word: str, rest: str) -> None:
        nodeid, message = split_summary(rest)
        test = nodeid or None
        suffix = nodeid.partition("::")[2]
        waiting = self._waiting.get((word, suffix)) if self._waiting else None
        if waiting:
            held = waiting.popleft()
            definition = self._definition(held.block, test)
            self._emit(held.crash.path, held.crash.line, held.message, test, definition)
            return
        if word == "FAILED" and self._line_items:
            item = self._line_items.popleft()
            if item.path is not None and is_project_path(item.path):
                self._emit(item.path, item.line, item.message, test, None)
                return
            message = item.message or message
        if self._emitted[test] > 0:
            self._emitted[test] -= 1
            return
        # The output named this failure but showed no location: point at the test file.
        path = nodeid.partition("::")[0] if nodeid else ""
        if path:
            text = self._unlocated.pop(suffix, None) or message or word
            self._emit(path, 1, text, test, None)

    def flush(self) -> None:
        """The session ended: what no summary line named goes out as it is."""
        while self._line_items:
            item = self._line_items.popleft()
            if item.path is not None:
                self._emit(item.path, item.line, item.message, None, None)
        for waiting in self._waiting.values():
            for held in waiting:
                definition = self._definition(held.block, held.test)
                self._emit(held.crash.path, held.crash.line, held.message, held.test, definition)
                self._emitted[held.test] += 1
        self._waiting.clear()

    def _test_id(self, block: FailureBlock, suffix: str) -> tuple[str | None, bool]:
        """The block's node id, and whether the output shows it (rather than a guess)."""
        if block.kind is BlockKind.COLLECT:
            return (None if block.title == "test session" else block.title), True
        candidates = self._known.get(suffix, [])
        if len(candidates) == 1:
            return candidates[0], True
        if block.kind is BlockKind.DOCTEST:
            path = block.frames[-1][0] if block.frames else None
            return (f"{self.relative(path)}::{suffix}" if path else None), path is not None
        function = block.title.partition("[")[0].rpartition(".")[2]
        path = block.test_file(function)
        if path is None:
            return None, False
        # A test module's frame running the test names it; a mixin's or a fixture's is a guess.
        entry = block.first_entry
        named = (path, function) in block.frame_functions or (
            entry is not None and (entry.path, entry.function) == (path, function)
        )
        certain = block.kind is BlockKind.FAILED and named and _TEST_FILE.search(path) is not None
        return f"{self.relative(path)}::{suffix}", certain

    def relative(self, path: str) -> str:
        """A printed path as node ids spell it: relative to pytest's rootdir.

        `-q` hides the rootdir line; the container side of the path mapping stands in.
        """
        root = self.rootdir or self._mapper.container_root(path)
        return relative_to(path, root).removeprefix("./")

    def _definition(self, block: FailureBlock, test: str | None) -> Location | None:
        """Where the test function starts: the first entry's source begins with it."""
        entry = block.first_entry
        if block.kind is not BlockKind.FAILED or entry is None or test is None:
            return None
        if entry.first_source_offset is None:
            return None
        function = block.title.partition("[")[0].rpartition(".")[2]
        if entry.function not in (function, None):
            return None
        if self.relative(entry.path) != test.partition("::")[0]:
            return None
        return Location(self._mapper.map(entry.path), entry.line - entry.first_source_offset)
