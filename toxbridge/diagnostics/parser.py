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
from dataclasses import replace
from enum import Enum

from toxbridge.diagnostics import skip
from toxbridge.diagnostics.ansi import decode_lines
from toxbridge.diagnostics.block import (
    BlockKind,
    FailureBlock,
    new_block,
)
from toxbridge.diagnostics.lines import MAX_LINE, PartialLine, cut_long_lines
from toxbridge.diagnostics.model import Diagnostic, Location, RunStatus, Severity
from toxbridge.diagnostics.paths import PathMapper, is_project_path
from toxbridge.diagnostics.progress import STATS, TOX_COMMAND, final_counts, parse_progress
from toxbridge.diagnostics.results import Session

_SECTION = re.compile(r"=+ (.+?) =+$")
_HEADER = re.compile(r"_{2,} (.+?) _{2,}$")
_CAPTURED = re.compile(r"-+ (?:Captured|captured) ")
# `FAILED id - msg`, `ERROR id`, and pytest 9's `SUBFAILED[msg] (i=1) id - msg`
_SUMMARY = re.compile(r"(FAILED|ERROR) ?(.*)$")
_SUBFAILED = re.compile(r"SUB(FAILED)(?:\[[^\]]*\])?(?: ?\([^)]*\))? ?(.*)$")
_WARNING = re.compile(r"\s+(\S+?):(\d+): (\w*Warning): (.*)$")
_CONFTEST = "ImportError while loading conftest "
_MAX_BATCH = 16 * 1024
# A partial line up to this long is copied along with the next chunk (cheapest for the
# usual short tail); a longer one is held by `PartialLine`, so that time stays linear.
_SHORT_TAIL = 1024  # bytes of consecutive lines decoded at once


class Section(Enum):
    NONE = "none"
    SESSION = "session"
    FAILURES = "failures"
    ERRORS = "errors"
    WARNINGS = "warnings"
    PASSES = "passes"
    SUMMARY = "summary"
    OTHER = "other"


_SECTIONS = {
    "FAILURES": Section.FAILURES,
    "ERRORS": Section.ERRORS,
    "warnings summary": Section.WARNINGS,
    "PASSES": Section.PASSES,
    "XPASSES": Section.PASSES,
    "XFAILURES": Section.PASSES,
    "short test summary info": Section.SUMMARY,
}
# The order in which pytest prints its sections after the progress: in captured output, a
# section that cannot come next is an inner pytest run's (pytester, a tool's own tests).
_RANKS = {
    "ERRORS": 1,
    "FAILURES": 2,
    "XFAILURES": 3,
    "warnings summary": 4,
    "PASSES": 5,
    "XPASSES": 6,
    "short test summary info": 7,
    "warnings summary (final)": 8,
}


class DiagnosticParser:
    """Feed raw bytes as they arrive; each call returns the diagnostics it completed."""

    def __init__(self, mapper: PathMapper | None = None) -> None:
        self._mapper = mapper or PathMapper()
        # The partial last line: short ones raw, after the newline that ended the line
        # before them; a long one in `_partial`.
        self._tail = b"\n"
        self._partial = PartialLine()
        self._long = False
        self._out: list[Diagnostic] = []
        self._section = Section.NONE
        self._block: FailureBlock | None = None
        self._rootdir: str | None = None
        self._env: str | None = None
        self._rank = 0  # of the current section in `_RANKS`
        self._inner = 0  # how deep in inner pytest sessions printed as captured output
        self._reset_counts()
        self._session = self._new_session()

    @property
    def status(self) -> RunStatus:
        return RunStatus(self._env, self._passed, self._failed, self._percent)

    def _reset_counts(self) -> None:
        self._passed = 0
        self._failed = 0
        self._percent: int | None = None

    def feed(self, data: bytes) -> list[Diagnostic]:
        end = data.rfind(b"\n")
        if end < 0:
            if self._long or len(self._tail) + len(data) > _SHORT_TAIL:
                # A long partial line: held piece by piece, never copied again (`lines.py`).
                self._partial.hold(self._tail[1:])
                self._partial.hold(data)
                self._tail, self._long = b"\n", True
            else:
                self._tail += data
            return self._take()
        partial = self._partial
        if self._long:
            first = data.find(b"\n")
            partial.hold(data[:first])
            buf = b"".join((b"\n", partial.take(), memoryview(data)[first:]))
            self._scan(buf, len(buf) - (len(data) - end))
        else:
            # `_scan` wants the newline before the first line: the tail starts with it.
            tail = self._tail
            self._scan(tail + data, len(tail) + end)
        self._long = len(data) - end > _SHORT_TAIL
        if self._long:
            partial.hold(data[end + 1 :])
            self._tail = b"\n"
        else:
            self._tail = data[end:]
        return self._take()

    def close(self) -> list[Diagnostic]:
        tail = self._partial.take() if self._long else self._tail[1:]
        self._tail, self._long = b"\n", False
        if tail:
            for line in decode_lines(tail):
                self._line(line)
        self._finish_block()
        self._session.flush()
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
            block = buf[pos:stop]
            if stop - pos > MAX_LINE:
                # Only a line over the cap makes a batch this long; cut it as `PartialLine` does.
                block = cut_long_lines(block)
            for line in decode_lines(block):
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
        if section is Section.OTHER or section is Section.NONE or section is Section.PASSES:
            return skip.OUTSIDE
        return None

    def _take(self) -> list[Diagnostic]:
        out, self._out = self._out, []
        return out

    def _new_session(self) -> Session:
        self._warning_test: str | None = None
        return Session(self._mapper, self._rootdir, self._emit)

    def _line(self, line: str) -> None:
        first = line[:1]
        if self._inner:
            self._inner_line(line, first)
            return
        section = self._section
        if first == "=" and line.startswith("=="):
            match = _SECTION.match(line)
            if match:
                title = match.group(1)
                if not (self._in_captured() and self._inner_starts(title)):
                    self._start_section(title)
                return
        if section is Section.SESSION:
            self._session_line(line)
        elif section is Section.FAILURES or section is Section.ERRORS:
            self._failure_line(line, first)
        elif first.isdigit() and STATS.match(line):
            # `-q` prints the final counts without the `=` decoration; in a passing
            # test's output they are an inner run's.
            if section is not Section.PASSES:
                self._end_session(line)
        elif section is Section.SUMMARY:
            self._summary_line(line, first)
        elif section is Section.WARNINGS:
            self._warning_line(line, first)
        elif section is Section.NONE:
            self._outside_line(line)
        if "commands" in line:
            self._tox_line(line)

    def _in_captured(self) -> bool:
        """In a passing test's or a failure's captured output, where anything may be printed."""
        block = self._block
        return self._section is Section.PASSES or (block is not None and block.captured)

    def _inner_starts(self, title: str) -> bool:
        """Whether a section line in captured output starts an inner pytest run's output.

        An inner run (pytester, a plugin's own tests) starts with its own `test session
        starts` or, with `-q`, a section that the outer run cannot print at this point.
        """
        if STATS.search(title):
            return False
        if title.startswith("test session starts") or _RANKS.get(title, 99) <= self._rank:
            self._inner = 1
            return True
        return False

    def _inner_line(self, line: str, first: str) -> None:
        """A line of an inner run: only its own sessions' starts and ends count."""
        if first == "=" and line.startswith("=="):
            match = _SECTION.match(line)
            if match:
                title = match.group(1)
                if title.startswith("test session starts"):
                    self._inner += 1
                elif STATS.search(title):
                    self._inner -= 1
        elif first.isdigit() and STATS.match(line):
            self._inner -= 1
        elif "commands" in line:
            self._tox_line(line)

    def _start_section(self, title: str) -> None:
        self._finish_block()
        if title.startswith("test session starts"):
            self._session.flush()
            self._session = self._new_session()
            self._section = Section.SESSION
            self._rank = 0
            self._reset_counts()
        elif STATS.search(title):
            self._end_session(title)
        else:
            self._section = _SECTIONS.get(title, Section.OTHER)
            self._rank = _RANKS.get(title, self._rank)

    def _end_session(self, stats: str) -> None:
        self._finish_block()
        self._session.flush()
        self._passed, self._failed = final_counts(stats)
        self._percent = 100
        self._section = Section.NONE

    def _tox_line(self, line: str) -> None:
        match = TOX_COMMAND.match(line)
        if match:
            self._finish_block()
            self._session.flush()
            self._session = self._new_session()
            self._section = Section.NONE
            self._inner = 0
            self._env = match.group(1)
            self._reset_counts()

    def _session_line(self, line: str) -> None:
        if line.endswith("%]"):
            if " PASSED " in line:
                digits = line[line.rfind("[") + 1 : -2]
                if digits.lstrip().isdigit():
                    # Most of a verbose log: count it without a regex.
                    self._passed += 1
                    self._percent = int(digits)
                    return
        elif line.startswith("rootdir: "):
            self._rootdir = line[9:].partition(", ")[0].strip()
            self._session.rootdir = self._rootdir
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
            self._session.shown(nodeid)

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
                self._session.orphan_line(line)
        elif first == "-" and _CAPTURED.match(line):
            block.start_captured()
        else:
            block.add(line)

    def _summary_line(self, line: str, first: str) -> None:
        if first == "F" or first == "E" or first == "S":
            match = (_SUBFAILED if first == "S" else _SUMMARY).match(line)
            if match:
                self._session.summary_entry(match.group(1), match.group(2))

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
        if block is not None:
            self._session.block(block)

    def _emit(
        self, path: str, line: int, message: str, test: str | None, definition: Location | None
    ) -> None:
        self._out.append(self._diagnostic(path, line, message, test, definition))

    def _diagnostic(
        self,
        path: str,
        line: int,
        message: str,
        test: str | None,
        definition: Location | None = None,
    ) -> Diagnostic:
        return Diagnostic(
            path=self._mapper.map(path, self._rootdir),
            line=max(line, 1),
            column=None,
            severity=Severity.ERROR,
            message=message or "failed",
            test=test,
            env=self._env,
            definition=definition,
        )
