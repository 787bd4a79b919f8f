"""One failure section (`____ test_name ____` up to the next header), line by line.

A block collects what every `--tb` style prints: pytest's own `path:line:` entries
(long, auto, short), Python's `File "…", line N` frames (native, ExceptionGroup,
doctest), `E` lines, and chained-exception separators. `resolve()` then picks the crash
site in the project and composes the message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from toxbridge.diagnostics.paths import is_project_path

# `tests/test_x.py:12: AssertionError`, `src/m.py:3: in helper`, `tests/test_x.py:30: `
_LOCATION = re.compile(r"(\S+?):(\d+):(?: (.*))?$")
# A path with a space in it is taken only when it names a source file (or is `<frozen …>`),
# so that a log line (`WARNING  app:t.py:7 tests/t.py:1: text`) or a sentence is not one.
_SPACED_HINT = re.compile(r"(?:\.(?:py|pyi|pyx|txt|rst|md)|>):\d+:")
_SPACED_LOCATION = re.compile(r"((?:[A-Za-z]:)?[^:]+?):(\d+):(?: (.*))?$")
_SPACED = re.compile(r"(?:[A-Za-z]:[\\/])?[^:]*?[^\s:]\.(?:py|pyi|pyx|txt|rst|md)$")


def location(line: str) -> re.Match[str] | None:
    """`path:line:` and what follows it, or None."""
    match = _LOCATION.match(line)
    if match is not None or " " not in line or _SPACED_HINT.search(line) is None:
        return match
    match = _SPACED_LOCATION.match(line)
    if match is None:
        return None
    path = match.group(1)
    if path[0] == "<" and path[-1] == ">":
        return match
    return None if "  " in path or not _SPACED.match(path) else match


# `  File "x.py", line 3, in f`, also inside an exception group (`  |   File …`: the bar is
# group 1, its column how deep the group is)
_NATIVE = re.compile(r'\s*(?:(\|) )?\s*File "(.+)", line (\d+)(?:, in (\S+))?')
_FIXTURE_FILE = re.compile(r"file (.+), line (\d+)$")
_DEF = re.compile(r">?\s+(?:async\s+)?def\s+(\w+)\s*\(")
_TYPE_NAME = re.compile(r"([\w.]+)(?::|$)")
_CHAIN = (
    "The above exception was the direct cause of the following exception:",
    "During handling of the above exception, another exception occurred:",
)
_MAX_LINES = 40


class BlockKind(str, Enum):
    FAILED = "failed"
    SETUP = "setup"
    TEARDOWN = "teardown"
    COLLECT = "collect"
    DOCTEST = "doctest"
    CONFTEST = "conftest"


@dataclass(frozen=True, slots=True)
class Entry:
    """The first traceback entry of a block, as needed to find the test's definition."""

    path: str
    line: int
    first_source_offset: int | None  # how far the `>` line is below the first source line
    function: str | None  # the `def` name shown in the entry's source, if any


@dataclass(frozen=True, slots=True)
class Crash:
    path: str
    line: int
    message: str


class FailureBlock:
    """Accumulates one failure section; feed lines with `add`, then call `resolve`."""

    __slots__ = (
        "_def_name",
        "_grouped",
        "_gt_index",
        "_member",
        "_source_count",
        "body",
        "captured",
        "e_lines",
        "exc_type",
        "first_entry",
        "frame_functions",
        "frame_keys",
        "frames",
        "group_lines",
        "kind",
        "native_lines",
        "subtest",
        "syntax",
        "title",
    )

    def __init__(self, kind: BlockKind, title: str) -> None:
        self.kind = kind
        failed = kind is BlockKind.FAILED
        self.title, self.subtest = _split_subtest(title) if failed else (title, "")
        self.first_entry: Entry | None = None
        self.frame_functions: list[tuple[str, str]] = []
        self.body: list[str] = []
        self.captured = False
        self._reset_chain()
        self._reset_entry()

    def _reset_chain(self) -> None:
        # A chained exception prints the cause first; only the last one is the failure.
        self.frames: list[tuple[str, int]] = []
        # Per frame: (how deep in an exception group it is printed, which member it is in);
        # (-1, 0) outside any group.
        self.frame_keys: list[tuple[int, int]] = []
        self._member = 0
        self._grouped = False  # a frame is printed inside a group
        self.e_lines: list[str] = []
        self.native_lines: list[str] = []
        self.group_lines: list[str] = []
        self.exc_type: str | None = None
        self.syntax: tuple[str, int] | None = None

    def _reset_entry(self) -> None:
        self._source_count = 0
        self._gt_index: int | None = None
        self._def_name: str | None = None

    def start_captured(self) -> None:
        """`--- Captured stdout call ---` and friends: the test's own output, never parsed."""
        self.captured = True

    def add(self, line: str) -> None:
        if self.captured:
            return
        if self.kind is BlockKind.DOCTEST and len(self.body) < _MAX_LINES:
            self.body.append(line)
        first = line[:1]
        if first == "E" and (len(line) == 1 or line[1] == " "):
            self._add_e_line(line)
        elif first in (" ", ">"):
            self._add_indented(line)
        elif first == "":
            return
        elif line in _CHAIN:
            self._reset_chain()
            self._reset_entry()
        else:
            self._add_plain(line)

    def _add_e_line(self, line: str) -> None:
        if len(self.e_lines) < _MAX_LINES:
            self.e_lines.append(line[1:])
        if self.syntax is None and 'File "' in line:
            # A SyntaxError names the broken file inside its message, not as a frame.
            match = _NATIVE.match(line, 1)
            if match:
                self.syntax = (match.group(2), int(match.group(3)))

    def _add_indented(self, line: str) -> None:
        if 'File "' in line:
            match = _NATIVE.match(line)
            if match:
                path, bar = match.group(2), match.start(1)
                self.frames.append((path, int(match.group(3))))
                self.frame_keys.append((bar, self._member))
                if bar >= 0:
                    self._grouped = True
                if match.group(4):
                    self.frame_functions.append((path, match.group(4)))
                return
        stripped = line.lstrip()
        head = stripped[:1]
        if head == "+" and stripped.startswith("+-"):
            # `+---------------- 2 ----------------`: the next member of a group
            self._member += 1
            return
        if head == "|" and stripped.startswith("| "):
            content = stripped[2:]
            if content[:1] not in (" ", "") and not content.startswith("Traceback"):
                self.group_lines.append(content)
            return
        if self.e_lines or not (line.startswith("    ") or line[0] == ">"):
            return
        if line[0] == ">" and self._gt_index is None:
            self._gt_index = self._source_count
        if self._def_name is None:
            match = _DEF.match(line)
            if match:
                self._def_name = match.group(1)
        self._source_count += 1

    def _add_plain(self, line: str) -> None:
        if line[0] == "f" and line.startswith("file "):
            # `fixture 'x' not found`: pytest names the test's file and line this way
            found = _FIXTURE_FILE.match(line)
            if found:
                self.frames.append((found.group(1), int(found.group(2))))
                self.frame_keys.append((-1, 0))
                return
        match = None
        if line[0] not in "_-=[":
            match = _LOCATION.match(line)
            if match is None and " " in line:
                match = location(line)
        if match is None:
            self._add_text(line)
            return
        path, number, rest = match.group(1), int(match.group(2)), match.group(3) or ""
        self.frames.append((path, number))
        self.frame_keys.append((-1, 0))
        if rest.startswith("in "):
            self.frame_functions.append((path, rest[3:]))
        elif rest:
            self.exc_type = rest
        if self.first_entry is None:
            offset = self._gt_index if self._source_count else None
            self.first_entry = Entry(path, number, offset, self._def_name)
        self._reset_entry()

    def _add_text(self, line: str) -> None:
        """Unindented text: a native traceback's message, or the body of an XPASS/doctest."""
        if self.frames:
            if len(self.native_lines) < _MAX_LINES and not line.startswith("Traceback"):
                self.native_lines.append(line)
        elif self.kind is not BlockKind.DOCTEST and len(self.body) < _MAX_LINES:
            self.body.append(line)

    def crash(self) -> Crash | None:
        """The project location and message of this failure, if the output shows one."""
        site: tuple[str, int] | None = None
        if self.kind is BlockKind.DOCTEST and self.frames and self.exc_type:
            site = self.frames[-1]
        elif self.syntax is not None:
            site = self.syntax
        else:
            site = self._deepest_project_frame()
        if site is None:
            return None
        return Crash(site[0], site[1], self.message())

    def _deepest_project_frame(self) -> tuple[str, int] | None:
        """The last project frame of the outermost exception that has one.

        In an exception group that is the group's own traceback if it runs through the
        project, else the first member's (hypothesis raises its groups from its own code).
        """
        if not self._grouped:
            # No exception group: simply the last project frame.
            for frame in reversed(self.frames):
                if is_project_path(frame[0]):
                    return frame
            return None
        best: tuple[int, int] | None = None
        site = None
        for frame, key in zip(self.frames, self.frame_keys, strict=True):
            if not is_project_path(frame[0]):
                continue
            if best is None or key[0] < best[0] or (key[0] == best[0] and key[1] <= best[1]):
                best, site = key, frame
        return site

    def message(self) -> str:
        if self.kind is BlockKind.DOCTEST:
            text = _doctest_text(self.body, self.native_lines)
        elif self.syntax is not None and self.e_lines:
            # Python prints the file and the caret first; lead with `SyntaxError: …`.
            lines = _dedent(self.e_lines).split("\n")
            text = "\n".join([lines[-1], *(line for line in lines[1:-1] if line.strip())])
        elif self.e_lines:
            text = _dedent(self.e_lines)
        else:
            text = "\n".join(self.native_lines or self.group_lines or self.body).strip()
        return with_type(text, self.exc_type)

    def test_file(self, function: str) -> str | None:
        """The file that defines `function`, from the frames that name it."""
        for path, name in self.frame_functions:
            if name == function:
                return path
        entry = self.first_entry
        if entry is not None and entry.function == function:
            return entry.path
        for path, _ in self.frames:
            if is_project_path(path):
                return path
        return None


def with_type(text: str, exc_type: str | None) -> str:
    """Prefix the exception type when pytest left it out (rewritten asserts, `--tb=short`)."""
    first = text.partition("\n")[0]
    if exc_type:
        match = _TYPE_NAME.match(first)
        if match and match.group(1).rpartition(".")[2] == exc_type.rpartition(".")[2]:
            return text
        return f"{exc_type}: {text}" if text else exc_type
    if first.startswith("assert "):
        return f"AssertionError: {text}"
    return text


def _dedent(lines: list[str]) -> str:
    indents = [len(line) - len(line.lstrip()) for line in lines if line.strip()]
    cut = min(indents, default=0)
    text = "\n".join(line[cut:].rstrip() for line in lines)
    return text.strip("\n")


def _doctest_text(body: list[str], native: list[str]) -> str:
    """`>>> example` plus what pytest shows under it (Expected/Got, or the exception)."""
    example = next((line[4:].strip() for line in body if ">>> " in line[:12]), "")
    if native:
        detail = native[-1]
    else:
        start = next((i for i, line in enumerate(body) if line == "Expected:"), len(body))
        shown = [line for line in body[start:] if line.strip() and not location(line)]
        detail = "\n".join(shown)
    return f"{example}\n{detail}".strip()


_TITLE_PREFIXES = (
    ("ERROR collecting ", BlockKind.COLLECT),
    ("ERROR at setup of ", BlockKind.SETUP),
    ("ERROR at teardown of ", BlockKind.TEARDOWN),
    ("[doctest] ", BlockKind.DOCTEST),
)


def new_block(title: str) -> FailureBlock:
    for prefix, kind in _TITLE_PREFIXES:
        if title.startswith(prefix):
            return FailureBlock(kind, title[len(prefix) :])
    return FailureBlock(BlockKind.FAILED, title)


def nodeid_suffix(domain: str, kind: BlockKind) -> str:
    """`TestThing.test_m[1.5]` → `TestThing::test_m[1.5]`; doctest names keep their dots."""
    if kind is BlockKind.DOCTEST:
        return domain
    head, bracket, params = domain.partition("[")
    return head.replace(".", "::") + bracket + params


def _split_subtest(title: str) -> tuple[str, str]:
    """`T.test_x (i=1)`, `T.test_x [msg] (i=1)` (pytest 9 subtests) → (`T.test_x`, `(i=1)`).

    A parametrized id keeps its spaces inside brackets (`test_p[a b]`); a subtest's
    description is the part after the first space outside them.
    """
    if " " not in title:
        return title, ""
    depth = 0
    for index, char in enumerate(title):
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        elif char == " " and depth == 0:
            return title[:index], title[index + 1 :]
    return title, ""


def split_summary(rest: str) -> tuple[str, str]:
    """`tests/t.py::test[a - b] - ValueError: x` → node id, message (brackets respected)."""
    start = 0
    while True:
        index = rest.find(" - ", start)
        if index < 0:
            return rest.strip(), ""
        head = rest[:index]
        if head.count("[") == head.count("]"):
            return head.strip(), with_type(rest[index + 3 :], None)
        start = index + 1
