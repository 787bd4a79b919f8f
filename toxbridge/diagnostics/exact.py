"""Exact results: the reporter's records (toxbridge.reporter.events) → each test's state and
diagnostics, as pytest itself reported them. Pure: the one question for the disk, whether a
src-layout source file exists, is asked through an injected `exists`.

`ExactResults` is fed a run's records in order and answers, for each record that changes
a test (or a collector), that test's whole result so far in this run: its state, duration,
definition and failures (setup, call and teardown each add one). A failure sits at the
deepest frame of its traceback that lies in the project, after path mapping: the server's
paths map to the workspace, and a frame in an env's installed copy of the project
(`…/site-packages/pkg/mod.py`) maps to the project's own `src/pkg/mod.py` (or `pkg/mod.py`)
when that file exists.
"""

from __future__ import annotations

import posixpath
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from toxbridge.diagnostics.model import Diagnostic, Location, Severity
from toxbridge.diagnostics.paths import PathMapper, is_project_path
from toxbridge.reporter import events

Exists = Callable[[str], bool]

# result states, as the editor's Testing views name them
ENQUEUED, STARTED, PASSED, FAILED = "enqueued", "started", "passed", "failed"
ERRORED, SKIPPED = "errored", "skipped"
TEST, COLLECT = "test", "collect"

_SITE_PACKAGES = ("/site-packages/", "/dist-packages/")
# a report's outcome → the test's state; a phase not named here leaves the state alone
_CALL_STATES = {
    "passed": PASSED,
    "failed": FAILED,
    "error": ERRORED,
    "skipped": SKIPPED,
    "xfailed": SKIPPED,  # an expected failure did not pass, but is no problem either
    "xpassed": PASSED,
}
_FAILING = frozenset({"failed", "error"})


class PathResolver:
    """Paths as an env saw them → local paths, and whether a local path is the project's:
    under the workspace or another local root (a path mapping's), and not installed."""

    def __init__(
        self,
        mapper: PathMapper,
        workspace: str | None,
        exists: Exists,
        roots: Sequence[str] = (),
    ) -> None:
        self.mapper = mapper
        self.workspace = workspace.rstrip("/") if workspace else None
        self.exists = exists
        found = [self.workspace, *(root.rstrip("/") for root in roots)]
        self.roots = sorted({root for root in found if root}, key=len, reverse=True)

    def local(self, path: str, rootdir: str | None = None) -> str:
        mapped = self.mapper.map(path, rootdir)
        return self._source_of_installed(mapped) or mapped

    def _source_of_installed(self, path: str) -> str | None:
        if not self.roots:
            return None
        for marker in _SITE_PACKAGES:
            _, found, rest = path.rpartition(marker)
            if found:
                for root in self.roots:
                    for candidate in ("src", ""):
                        source = posixpath.join(root, candidate, rest)
                        if self.exists(source):
                            return source
        return None

    def in_project(self, local: str) -> bool:
        if not self.roots:
            return is_project_path(local)
        for root in self.roots:
            if local.startswith(root + "/"):
                return is_project_path(local[len(root) + 1 :])
        return False


@dataclass(frozen=True, slots=True)
class Failure:
    """One failing phase (or collector) of a test."""

    when: str  # setup, call, teardown, or collect
    message: str  # the first line of pytest's message
    text: str  # pytest's full failure text (longreprtext)
    location: Location  # the deepest project frame, mapped
    stack: tuple[Location, ...]  # the project's frames, outermost first
    expected: str | None  # a failed `==`'s right side
    actual: str | None  # …and its left side


@dataclass(frozen=True, slots=True)
class ExactResult:
    """A test's (kind "test") or a collector's (kind "collect") result so far in a run."""

    env: str
    nodeid: str
    kind: str
    state: str
    duration_s: float | None
    definition: Location | None
    failures: tuple[Failure, ...]
    reason: str | None = None  # a skip's or xfail's reason

    def diagnostics(self) -> list[Diagnostic]:
        return [
            Diagnostic(
                path=failure.location.path,
                line=failure.location.line,
                column=None,
                severity=Severity.ERROR,
                message=_diagnostic_message(failure),
                test=self.nodeid,
                env=self.env,
                definition=self.definition,
            )
            for failure in self.failures
        ]


def _diagnostic_message(failure: Failure) -> str:
    if failure.when in ("setup", "teardown"):
        return f"error at {failure.when}: {failure.message}"
    if failure.when == COLLECT:
        return f"collection failed: {failure.message}"
    return failure.message


@dataclass(slots=True)
class _Test:
    state: str = STARTED
    duration_s: float | None = None
    failures: list[Failure] = field(default_factory=list)
    reason: str | None = None


class ExactResults:
    """One run's records → results, as they come; `counts` for progress."""

    def __init__(self, resolver: PathResolver) -> None:
        self.resolver = resolver
        self._rootdirs: dict[str, str] = {}  # pytest session id → its rootdir
        self._definitions: dict[tuple[str, str], Location] = {}
        self._tests: dict[tuple[str, str], _Test] = {}
        self.env: str | None = None  # the env of the latest record
        self.envs: set[str] = set()  # every env that sent a record
        self._collected: set[tuple[str, str]] = set()

    def feed(self, records: Iterable[events.Record]) -> list[ExactResult]:
        changed: dict[tuple[str, str, str], ExactResult] = {}
        for record in records:
            result = self._one(record)
            if result is not None:
                changed[(result.env, result.kind, result.nodeid)] = result
        return list(changed.values())

    def counts(self) -> Counter[str]:
        return Counter(test.state for test in self._tests.values())

    def percent(self) -> int | None:
        """How many of the collected tests have a result (xdist workers' collections of the
        same tests count once); None before a collection."""
        if not self._collected:
            return None
        done = sum(1 for test in self._tests.values() if test.state != STARTED)
        return min(100, done * 100 // len(self._collected))

    def _one(self, record: events.Record) -> ExactResult | None:
        self.env = record.env
        self.envs.add(record.env)
        if isinstance(record, events.Session):
            self._rootdirs[record.sid] = record.rootdir
        elif isinstance(record, events.Collection):
            for item in record.items:
                self._define(record, item.nodeid, item.path, item.line)
                self._collected.add((record.env, item.nodeid))
        elif isinstance(record, events.Start):
            self._define(record, record.nodeid, record.path, record.line)
            self._tests[(record.env, record.nodeid)] = _Test()  # a rerun starts afresh
            return self._result(record.env, record.nodeid)
        elif isinstance(record, events.Report):
            return self._report(record)
        elif isinstance(record, events.Collect):
            return self._collect(record)
        return None

    def _define(self, record: events.Header, nodeid: str, path: str, line: int | None) -> None:
        local = self.resolver.local(path, self._rootdirs.get(record.sid))
        self._definitions[(record.env, nodeid)] = Location(local, line or 1)

    def _report(self, report: events.Report) -> ExactResult | None:
        test = self._tests.setdefault((report.env, report.nodeid), _Test())
        if report.outcome in _FAILING:
            test.failures.append(self._failure(report, report.when))
        test.duration_s = (test.duration_s or 0.0) + report.duration
        if report.when == "call" or report.outcome != "passed":
            if report.outcome in _CALL_STATES:
                state = _CALL_STATES[report.outcome]
                if report.when != "call" and report.outcome in _FAILING:
                    state = ERRORED
                # a teardown error does not hide the call's failure
                test.state = FAILED if test.state == FAILED and state == ERRORED else state
            if report.outcome in ("skipped", "xfailed", "xpassed"):
                test.reason = report.reason
        elif report.when == "setup":
            return None  # a passed setup changes nothing an editor shows
        return self._result(report.env, report.nodeid)

    def _result(self, env: str, nodeid: str, kind: str = TEST) -> ExactResult:
        test = self._tests[(env, nodeid)]
        return ExactResult(
            env=env,
            nodeid=nodeid,
            kind=kind,
            state=test.state,
            duration_s=test.duration_s,
            definition=self._definitions.get((env, nodeid)),
            failures=tuple(test.failures),
            reason=test.reason,
        )

    def _collect(self, report: events.Collect) -> ExactResult | None:
        if not report.nodeid:
            return None  # the session's own collector
        failing = report.outcome in _FAILING
        return ExactResult(
            env=report.env,
            nodeid=report.nodeid,
            kind=COLLECT,
            state=ERRORED if failing else PASSED,
            duration_s=None,
            definition=None,
            failures=(self._failure(report, COLLECT),) if failing else (),
        )

    def _failure(self, report: events.Outcome, when: str) -> Failure:
        rootdir = self._rootdirs.get(report.sid)
        frames = [Location(self.resolver.local(path, rootdir), n) for path, n in report.traceback]
        stack = tuple(frame for frame in frames if self.resolver.in_project(frame.path))
        location = stack[-1] if stack else self._fallback(report, rootdir)
        compare = report.compare if isinstance(report, events.Report) else None
        equal = compare is not None and compare.op == "=="
        return Failure(
            when=when,
            message=_first_line(report.message or report.reason or report.outcome),
            text=report.longreprtext or report.message or "",
            location=location,
            stack=stack,
            expected=compare.right if equal and compare else None,
            actual=compare.left if equal and compare else None,
        )

    def _fallback(self, report: events.Outcome, rootdir: str | None) -> Location:
        """No frame in the project: the crash if it is there, else the test's definition,
        else its file's first line."""
        if report.crash is not None and report.crash.line is not None:
            crash = self.resolver.local(report.crash.path, rootdir)
            if self.resolver.in_project(crash):
                return Location(crash, report.crash.line)
        definition = self._definitions.get((report.env, report.nodeid))
        if definition is not None:
            return definition
        file = report.nodeid.partition("::")[0]
        return Location(self.resolver.local(posixpath.join(rootdir or "", file), rootdir), 1)


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return text.strip()
