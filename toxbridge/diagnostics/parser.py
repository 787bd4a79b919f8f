"""The streaming parser: tox + pytest output in, diagnostics out, as soon as complete.

Most of a log is progress, captured output and passing tests, so a line is first sorted
by the section it is in (pytest's `=== TITLE ===` lines) and by its first character;
only lines inside FAILURES/ERRORS, the warnings summary and the short summary are
parsed further. A failure is emitted when the next header, section or summary line
shows that its section is complete.

Outside those sections, lines that cannot change anything are skipped in raw bytes (see
`skip.py`), so a long passing run costs a few `bytes.find` calls per chunk.
"""

from __future__ import annotations

import re
from collections import Counter, deque
from dataclasses import dataclass, replace
from enum import Enum

from toxbridge.diagnostics import skip
from toxbridge.diagnostics.ansi import decode_lines
from toxbridge.diagnostics.block import (
    LOCATION,
    BlockKind,
    FailureBlock,
    new_block,
    nodeid_suffix,
    split_summary,
)
from toxbridge.diagnostics.model import Diagnostic, Location, RunStatus, Severity
from toxbridge.diagnostics.paths import PathMapper, is_project_path, relative_to
from toxbridge.diagnostics.progress import STATS, TOX_COMMAND, final_counts, parse_progress

_SECTION = re.compile(r"=+ (.+?) =+$")
_HEADER = re.compile(r"_{2,} (.+?) _{2,}$")
_CAPTURED = re.compile(r"-+ (?:Captured|captured) ")
_SUMMARY = re.compile(r"(FAILED|ERROR) ?(.*)$")
_WARNING = re.compile(r"\s+(\S+?):(\d+): (\w*Warning): (.*)$")
_CONFTEST = "ImportError while loading conftest "
_MAX_BATCH = 16 * 1024  # bytes of consecutive lines decoded at once


class Section(Enum):
    NONE = "none"
    SESSION = "session"
    FAILURES = "failures"
    ERRORS = "errors"
    WARNINGS = "warnings"
    SUMMARY = "summary"
    OTHER = "other"


_SECTIONS = {
    "FAILURES": Section.FAILURES,
    "ERRORS": Section.ERRORS,
    "warnings summary": Section.WARNINGS,
    "short test summary info": Section.SUMMARY,
}


@dataclass(frozen=True, slots=True)
class _LineItem:
    """One `--tb=line` crash line, held until the short summary names its test."""

    path: str | None
    line: int
    message: str


class DiagnosticParser:
    """Feed raw bytes as they arrive; each call returns the diagnostics it completed."""

    def __init__(self, mapper: PathMapper | None = None) -> None:
        self._mapper = mapper or PathMapper()
        # The partial last line, raw, after the newline that ended the line before it.
        self._tail = b"\n"
        self._out: list[Diagnostic] = []
        self._section = Section.NONE
        self._block: FailureBlock | None = None
        self._rootdir: str | None = None
        self._env: str | None = None
        self._reset_counts()
        self._reset_session()

    @property
    def status(self) -> RunStatus:
        return RunStatus(self._env, self._passed, self._failed, self._percent)

    def _reset_counts(self) -> None:
        self._passed = 0
        self._failed = 0
        self._percent: int | None = None

    def feed(self, data: bytes) -> list[Diagnostic]:
        buf = self._tail + data
        end = buf.rfind(b"\n")
        if end > 0:
            self._scan(buf, end)
            self._tail = buf[end:]
        else:
            self._tail = buf
        return self._take()

    def close(self) -> list[Diagnostic]:
        tail, self._tail = self._tail[1:], b"\n"
        if tail:
            for line in decode_lines(tail):
                self._line(line)
        self._finish_block()
        self._flush_line_items()
        return self._take()

    def _scan(self, buf: bytes, end: int) -> None:
        """The complete lines in `buf[1:end]`; `buf[0]` and `buf[end]` are newlines.

        Where lines may be skipped, only those holding a needle are decoded. Lines are
        decoded in batches that grow while no line is skipped, as in a failure section.
        """
        pos, batch = 1, 0
        found: dict[skip.Needle, int] = {}
        while pos <= end:
            needles = self._needles()
            if needles is not None:
                start = skip.next_line(buf, pos, end, needles, found)
                if start > end:
                    return
                if start > pos:
                    pos, batch = start, 0
            stop = buf.find(b"\n", min(pos + batch, end))
            for line in decode_lines(buf[pos:stop]):
                self._line(line)
            pos = stop + 1
            batch = min(batch * 2 + 256, _MAX_BATCH)

    def _needles(self) -> skip.Needles | None:
        """What a line needs to matter now, or None where every line matters."""
        if self._block is not None:
            return None
        section = self._section
        if section is Section.SESSION:
            return skip.SESSION
        if section is Section.OTHER or section is Section.NONE:
            return skip.OUTSIDE
        return None

    def _take(self) -> list[Diagnostic]:
        out, self._out = self._out, []
        return out

    def _reset_session(self) -> None:
        # Per pytest session, so memory does not grow with the number of sessions.
        self._emitted: Counter[str | None] = Counter()
        self._unlocated: dict[str, str] = {}
        self._known: dict[str, list[str]] = {}
        self._line_items: deque[_LineItem] = deque()
        self._last_orphan = ""
        self._warning_test: str | None = None
        self._last_conftest: Diagnostic | None = None

    def _line(self, line: str) -> None:
        first = line[:1]
        section = self._section
        if first == "=" and line.startswith("=="):
            match = _SECTION.match(line)
            if match:
                self._start_section(match.group(1))
                return
        if section is Section.SESSION:
            self._session_line(line)
        elif section is Section.FAILURES or section is Section.ERRORS:
            self._failure_line(line, first)
        elif first.isdigit() and STATS.match(line):
            # `-q` prints the final counts without the `=` decoration.
            self._end_session(line)
        elif section is Section.SUMMARY:
            self._summary_line(line, first)
        elif section is Section.WARNINGS:
            self._warning_line(line, first)
        elif section is Section.NONE:
            self._outside_line(line)
        if "commands" in line:
            self._tox_line(line)

    def _start_section(self, title: str) -> None:
        self._finish_block()
        if title.startswith("test session starts"):
            self._flush_line_items()
            self._reset_session()
            self._section = Section.SESSION
            self._reset_counts()
        elif STATS.search(title):
            self._end_session(title)
        else:
            self._section = _SECTIONS.get(title, Section.OTHER)

    def _end_session(self, stats: str) -> None:
        self._finish_block()
        self._flush_line_items()
        self._passed, self._failed = final_counts(stats)
        self._percent = 100
        self._section = Section.NONE

    def _tox_line(self, line: str) -> None:
        match = TOX_COMMAND.match(line)
        if match:
            self._finish_block()
            self._flush_line_items()
            self._section = Section.NONE
            self._env = match.group(1)
            self._reset_counts()

    def _session_line(self, line: str) -> None:
        if line.startswith("rootdir: "):
            self._rootdir = line[9:].partition(", ")[0].strip()
            return
        if line.endswith("%]"):
            digits = line[line.rfind("[") + 1 : -2].strip()
            if " PASSED " in line and digits.isdigit():
                # Most of a verbose log: count it without a regex.
                self._passed += 1
                self._percent = int(digits)
                return
        elif not line.startswith("[gw"):
            return
        progress = parse_progress(line)
        if progress is None:
            return
        nodeid, passed, failed, self._percent = progress
        self._passed += passed
        self._failed += failed
        if nodeid is not None:
            known = self._known.setdefault(nodeid.partition("::")[2], [])
            if nodeid not in known:
                known.append(nodeid)

    def _outside_line(self, line: str) -> None:
        """Before or after a session: a conftest that fails to import, or `-q` stats."""
        block = self._block
        if block is not None:
            if block.e_lines and not line.startswith("E"):
                self._finish_block()
            else:
                block.add(line)
                return
        if line.startswith(_CONFTEST):
            self._block = FailureBlock(BlockKind.CONFTEST, line)

    def _failure_line(self, line: str, first: str) -> None:
        if first == "_" and line.startswith("__"):
            match = _HEADER.match(line)
            if match:
                self._finish_block()
                self._block = new_block(match.group(1))
                return
        block = self._block
        if block is None:
            if self._section is Section.FAILURES:
                self._orphan_line(line)
        elif first == "-" and _CAPTURED.match(line):
            block.start_captured()
        else:
            block.add(line)

    def _orphan_line(self, line: str) -> None:
        """FAILURES without headers: `--tb=line` prints one crash line per failure."""
        if line.startswith("[XPASS(strict)]"):
            if line != self._last_orphan:
                self._line_items.append(_LineItem(None, 0, line))
        elif line[:1] not in (" ", "E", "") and "<" not in line[:1]:
            match = LOCATION.match(line)
            if match:
                path, number, message = match.group(1), int(match.group(2)), match.group(3)
                self._line_items.append(_LineItem(path, number, message or ""))
        self._last_orphan = line

    def _summary_line(self, line: str, first: str) -> None:
        if first == "F" or first == "E":
            match = _SUMMARY.match(line)
            if match:
                self._summary_entry(match.group(1), match.group(2))

    def _summary_entry(self, word: str, rest: str) -> None:
        nodeid, message = split_summary(rest)
        test = nodeid or None
        if word == "FAILED" and self._line_items:
            item = self._line_items.popleft()
            if item.path is not None and is_project_path(item.path):
                self._emit(item.path, item.line, item.message, test, None, count=False)
                return
            message = item.message or message
        if self._emitted[test] > 0:
            self._emitted[test] -= 1
            return
        # The output named this failure but showed no location: point at the test file.
        path = nodeid.partition("::")[0] if nodeid else ""
        if path:
            text = self._unlocated.pop(nodeid.partition("::")[2], None) or message or word
            self._emit(path, 1, text, test, None, count=False)

    def _warning_line(self, line: str, first: str) -> None:
        if first == " ":
            match = _WARNING.match(line)
            # Warnings raised inside installed packages are not the user's to fix.
            if match and is_project_path(match.group(1)):
                path, number, kind, text = match.groups()
                test = self._warning_test
                diagnostic = self._diagnostic(path, int(number), f"{kind}: {text}", test)
                self._out.append(replace(diagnostic, severity=Severity.WARNING))
        elif first not in ("", "-"):
            self._warning_test = line.strip()

    def _finish_block(self) -> None:
        block, self._block = self._block, None
        if block is None:
            return
        test = self._test_id(block)
        crash = block.crash()
        if crash is None:
            # The summary line will name the test; keep the fuller message for it.
            self._unlocated[nodeid_suffix(block.title, block.kind)] = block.message()
            return
        definition = self._definition(block, test)
        if block.kind is BlockKind.CONFTEST:
            diagnostic = self._diagnostic(crash.path, crash.line, crash.message, None)
            if diagnostic != self._last_conftest:
                self._out.append(diagnostic)
            self._last_conftest = diagnostic
            return
        self._emit(crash.path, crash.line, crash.message, test, definition)

    def _emit(
        self,
        path: str,
        line: int,
        message: str,
        test: str | None,
        definition: Location | None,
        *,
        count: bool = True,
    ) -> None:
        diagnostic = self._diagnostic(path, line, message, test)
        self._out.append(replace(diagnostic, definition=definition))
        if count:
            self._emitted[test] += 1

    def _diagnostic(self, path: str, line: int, message: str, test: str | None) -> Diagnostic:
        return Diagnostic(
            path=self._mapper.map(path),
            line=max(line, 1),
            column=None,
            severity=Severity.ERROR,
            message=message or "failed",
            test=test,
            env=self._env,
        )

    def _test_id(self, block: FailureBlock) -> str | None:
        if block.kind is BlockKind.CONFTEST:
            return None
        if block.kind is BlockKind.COLLECT:
            return None if block.title == "test session" else block.title
        suffix = nodeid_suffix(block.title, block.kind)
        candidates = self._known.get(suffix, [])
        if len(candidates) == 1:
            return candidates[0]
        if block.kind is BlockKind.DOCTEST:
            path = block.frames[-1][0] if block.frames else None
        else:
            path = block.test_file(block.title.partition("[")[0].rpartition(".")[2])
        if path is None:
            return None
        return f"{self._relative(path)}::{suffix}"

    def _relative(self, path: str) -> str:
        """A printed path as node ids spell it: relative to pytest's rootdir.

        `-q` hides the rootdir line; the container side of the path mapping stands in.
        """
        root = self._rootdir or self._mapper.container_root(path)
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
        if self._relative(entry.path) != test.partition("::")[0]:
            return None
        return Location(self._mapper.map(entry.path), entry.line - entry.first_source_offset)

    def _flush_line_items(self) -> None:
        while self._line_items:
            item = self._line_items.popleft()
            if item.path is not None:
                self._emit(item.path, item.line, item.message, None, None)
