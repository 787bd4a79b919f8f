"""The test events channel's record format, version 1: one JSON object per line.

Pure: no I/O. The reporter inside pytest (`pytest_plugin`, which cannot import this
module: it runs in the user's env) writes the records; `decode_line` reads one line
into a typed record or raises `BadRecord` with a message naming what is wrong, and
`encode` writes a record back as the same line. `reportlog` turns a record into the
object pytest-reportlog writes for the same event, `map_paths` rewrites the paths a
record carries as the env saw them.

Every record has `v` (FORMAT_VERSION), `kind`, `env` (the tox env), `sid` (one pytest
session: the xdist controller and its workers share it), `t` (time.time() when it was
made), `pid` and `worker` (the xdist worker id, or null). Kinds and their own fields:

    session     pytest, python, rootdir, invocation_dir, args
    collection  items [{nodeid, path, line, name, function, classes, param}], deselected
    collect     nodeid, outcome, crash, message, longreprtext, reason, sections,
                traceback, reportlog        (one per pytest CollectReport the sender saw)
    start       nodeid, path, line, domain  (pytest_runtest_logstart)
    report      nodeid, when, outcome, duration, crash, message, longreprtext, reason,
                sections, compare, traceback, subtest, reportlog
    warning     when, nodeid, location, category, filename, lineno, message
    finish      exitstatus, counts, duration

Lines are 1-based, paths absolute as the env saw them; node ids are pytest's (relative
to rootdir). A reader ignores fields it does not know; a new field does not change `v`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, fields, replace
from enum import Enum
from typing import Any, ClassVar, TypeAlias

from toxbridge.errors import ToxbridgeError
from toxbridge.reporter.convert import builder

FORMAT_VERSION = 1
ADDRESS_VARIABLE = "TOXBRIDGE_EVENTS"  # the channel's address, set for tox by the server
ENV_VARIABLE = "TOXBRIDGE_ENV"  # the tox env's name, set for pytest by the tox plugin
REPORTLOG_VARIABLE = "TOXBRIDGE_REPORTLOG"  # "1" for tox: reports carry their `reportlog`
OUTCOMES = ("passed", "failed", "skipped", "xfailed", "xpassed", "error")
PHASES = ("setup", "call", "teardown")


class BadRecord(ToxbridgeError):
    """A line that is not a record of this format; the message says what is wrong."""


class NoReportlog(ToxbridgeError):
    """A report without its reportlog data: the run was started without TOXBRIDGE_REPORTLOG."""


class Kind(str, Enum):
    SESSION = "session"
    COLLECTION = "collection"
    COLLECT = "collect"
    START = "start"
    REPORT = "report"
    WARNING = "warning"
    FINISH = "finish"


@dataclass(frozen=True, slots=True)
class Crash:
    """Where pytest says a failure happened (or a skip was called), and its message."""

    path: str
    line: int | None
    message: str


@dataclass(frozen=True, slots=True)
class Compare:
    """The two sides of a failed comparison, as text: strings as they are, else pprint."""

    op: str
    left: str
    right: str
    left_type: str
    right_type: str


@dataclass(frozen=True, slots=True)
class Item:
    nodeid: str
    path: str
    line: int | None  # pytest's location of the item: its def (or first decorator)
    name: str
    function: str
    classes: tuple[str, ...]
    param: str | None  # the parametrize id


@dataclass(frozen=True, slots=True, kw_only=True)
class Header:
    env: str
    sid: str
    t: float
    pid: int
    worker: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Session(Header):
    kind: ClassVar[Kind] = Kind.SESSION
    pytest: str
    python: str
    rootdir: str
    invocation_dir: str
    args: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Collection(Header):
    kind: ClassVar[Kind] = Kind.COLLECTION
    items: tuple[Item, ...]
    deselected: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome(Header):
    """What a collector's and a test phase's report share."""

    nodeid: str
    outcome: str  # one of OUTCOMES, or another plugin's word (pytest-rerunfailures' "rerun")
    crash: Crash | None
    message: str | None
    longreprtext: str
    reason: str | None
    sections: tuple[tuple[str, str], ...]
    traceback: tuple[tuple[str, int], ...]  # [path, line] of each frame from the test's on
    reportlog: Mapping[str, Any] | None  # pytest-reportlog's object less `sections`, on request


@dataclass(frozen=True, slots=True, kw_only=True)
class Collect(Outcome):
    kind: ClassVar[Kind] = Kind.COLLECT


@dataclass(frozen=True, slots=True, kw_only=True)
class Start(Header):
    kind: ClassVar[Kind] = Kind.START
    nodeid: str
    path: str
    line: int | None
    domain: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Report(Outcome):
    kind: ClassVar[Kind] = Kind.REPORT
    when: str
    duration: float
    compare: Compare | None
    subtest: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Warning(Header):  # pytest-reportlog's name for it
    kind: ClassVar[Kind] = Kind.WARNING
    when: str
    nodeid: str
    location: tuple[str, int, str] | None
    category: str | None
    filename: str
    lineno: int
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Finish(Header):
    kind: ClassVar[Kind] = Kind.FINISH
    exitstatus: int
    counts: Mapping[str, int]
    duration: float


Record: TypeAlias = Session | Collection | Collect | Start | Report | Warning | Finish
RECORD_TYPES: dict[Kind, type[Record]] = {
    cls.kind: cls for cls in (Session, Collection, Collect, Start, Report, Warning, Finish)
}


def decode_line(line: bytes | str) -> Record:
    """One line (its newline optional) → a record; BadRecord says what is wrong."""
    try:
        data = json.loads(line)
    except (ValueError, UnicodeDecodeError) as error:
        raise BadRecord(f"not a JSON line: {error}") from None
    if not isinstance(data, dict):
        raise BadRecord(f"a record is a JSON object, not {type(data).__name__}")
    return decode(data)


def decode(data: Mapping[str, Any]) -> Record:
    version = data.get("v")
    if version != FORMAT_VERSION:
        raise BadRecord(f"record format version {version!r}: this reader knows {FORMAT_VERSION}")
    try:
        kind = Kind(data.get("kind"))
    except ValueError:
        raise BadRecord(f"unknown record kind {data.get('kind')!r}") from None
    record: Record = _BUILDERS[kind](data, kind.value)
    return record


def encode(record: Record) -> bytes:
    """The record as its line, newline included; `decode_line` reads it back equal."""
    data = {"v": FORMAT_VERSION, "kind": record.kind.value, **to_json(record)}
    return json.dumps(data, separators=(",", ":")).encode() + b"\n"


def to_json(value: Any) -> Any:
    """A record (or a part of one) as plain JSON values, field names as keys."""
    if hasattr(value, "__dataclass_fields__"):
        return {f.name: to_json(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, tuple | list):
        return [to_json(item) for item in value]
    if isinstance(value, Mapping):
        return {key: to_json(item) for key, item in value.items()}
    return value


def read_lines(lines: Iterable[bytes | str]) -> Iterator[Record | BadRecord]:
    """Every line's record, or the BadRecord it raised: a reader never stops on a bad line."""
    for line in lines:
        if line.strip():
            try:
                yield decode_line(line)
            except BadRecord as error:
                yield error


def reportlog(record: Record) -> dict[str, Any] | None:
    """What pytest-reportlog writes for the event (`start`, `collection`: nothing)."""
    if isinstance(record, Session):
        return {"pytest_version": record.pytest, "$report_type": "SessionStart"}
    if isinstance(record, Finish):
        return {"exitstatus": record.exitstatus, "$report_type": "SessionFinish"}
    if isinstance(record, Warning):
        data: dict[str, Any] = {"category": record.category, "filename": record.filename}
        data.update(lineno=record.lineno, message=record.message)
        location = list(record.location) if record.location is not None else None
        return {**data, "$report_type": "WarningMessage", "when": record.when, "location": location}
    if isinstance(record, Report | Collect):
        if record.reportlog is None:
            raise NoReportlog(
                f"the report of {record.nodeid or 'the session'} carries no reportlog data: "
                f"run tox with {REPORTLOG_VARIABLE}=1 to have them"
            )
        return _with_sections(record.reportlog, [list(section) for section in record.sections])
    return None


def _with_sections(data: Mapping[str, Any], sections: list[list[str]]) -> dict[str, Any]:
    # where pytest keeps them: before a TestReport's duration, after a CollectReport's result
    result: dict[str, Any] = {}
    for key, value in data.items():
        if key == "duration":
            result["sections"] = sections
        result[key] = value
        if key == "result":
            result["sections"] = sections
    result.setdefault("sections", sections)
    return result


def reportlog_lines(records: Iterable[Record]) -> Iterator[str]:
    """The lines of `pytest --report-log` for these records (each without its newline)."""
    for record in records:
        data = reportlog(record)
        if data is not None:
            yield json.dumps(data)


PathMap: TypeAlias = Callable[[str], str]


def prefix_map(pairs: Iterable[tuple[str, str]]) -> PathMap:
    """Replace the longest matching (env prefix, local prefix) of an absolute path."""
    ordered = sorted(
        ((env.rstrip("/"), local.rstrip("/")) for env, local in pairs),
        key=lambda pair: -len(pair[0]),
    )

    def map_path(path: str) -> str:
        for env, local in ordered:
            if path == env or path.startswith(env + "/"):
                return local + path[len(env) :]
        return path

    return map_path


def map_paths(record: Record, map_path: PathMap) -> Record:
    """The record with every path it carries (reportlog's included) passed through map_path."""
    if isinstance(record, Session):
        return replace(
            record, rootdir=map_path(record.rootdir), invocation_dir=map_path(record.invocation_dir)
        )
    if isinstance(record, Collection):
        return replace(
            record, items=tuple(replace(item, path=map_path(item.path)) for item in record.items)
        )
    if isinstance(record, Start):
        return replace(record, path=map_path(record.path))
    if isinstance(record, Warning):
        location = record.location
        if location is not None:
            location = (map_path(location[0]), location[1], location[2])
        return replace(record, filename=map_path(record.filename), location=location)
    if isinstance(record, Report | Collect):
        crash = record.crash and replace(record.crash, path=map_path(record.crash.path))
        frames = tuple((map_path(path), line) for path, line in record.traceback)
        return replace(
            record,
            crash=crash,
            traceback=frames,
            reportlog=record.reportlog and _map_reportlog(record.reportlog, map_path),
        )
    return record


def _map_reportlog(data: Any, map_path: PathMap, key: str = "") -> Any:
    if isinstance(data, dict):
        return {name: _map_reportlog(value, map_path, name) for name, value in data.items()}
    if isinstance(data, list):
        if key == "longrepr" and len(data) == 3 and isinstance(data[0], str):  # a skip's site
            return [map_path(data[0]), *data[1:]]
        return [_map_reportlog(value, map_path) for value in data]
    if key == "path" and isinstance(data, str):
        return map_path(data)
    return data


_BUILDERS = {kind: builder(cls, BadRecord) for kind, cls in RECORD_TYPES.items()}
