"""Load the committed corpus and score the parser against pytest's own truth.

Two sources: the fixture project of `make_corpus.py` (`data/*.log`) and the real projects
of `make_project_corpus.py` (`data/projects/<name>.tar.xz`). Each truth record is put into
failure families from what pytest recorded (its kind, phase, exception type, item type),
never from the log, and each run has its `--tb` style, so figures can be given per family
and per style.
"""

from __future__ import annotations

import json
import re
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from toxbridge.diagnostics import Diagnostic, DiagnosticParser, PathMapper, Severity

DATA = Path(__file__).resolve().parent / "data"
PROJECTS = DATA / "projects"
FAMILIES = DATA / "families"
LOCAL_ROOT = "/local/proj"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass(frozen=True, slots=True)
class Truth:
    test: str | None
    env: str | None
    path: str
    line: int | None
    printed: bool  # whether the log shows this line number for this file at all
    message: str
    crash_message: bool  # `message` is pytest's reprcrash message, not a whole report
    definition: tuple[str, int] | None
    families: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Run:
    source: str  # "fixture" or the project's name
    name: str
    style: str
    log: bytes
    root: str
    truths: tuple[Truth, ...]


@dataclass(slots=True)
class Score:
    truths: int = 0
    found: int = 0
    parsed: int = 0
    correct: int = 0
    messages: int = 0
    message_ok: int = 0
    missed: list[tuple[str, Truth]] = field(default_factory=list)
    spurious: list[tuple[str, Diagnostic]] = field(default_factory=list)
    # spurious diagnostics naming a test that did not fail (or none): invented failures,
    # which is what captured output, logs and inner pytest runs would give
    invented: list[tuple[str, Diagnostic]] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return self.found / self.truths if self.truths else 1.0

    @property
    def precision(self) -> float:
        return self.correct / self.parsed if self.parsed else 1.0

    @property
    def message_quality(self) -> float:
        return self.message_ok / self.messages if self.messages else 1.0


def log_names() -> list[str]:
    return sorted(path.name.removesuffix(".log") for path in DATA.glob("*.log"))


def mapper_for(root: str) -> PathMapper:
    return PathMapper([(root, LOCAL_ROOT)], root=LOCAL_ROOT)


def load(name: str, folder: Path = DATA) -> tuple[bytes, str, list[Truth]]:
    """A log of the fixture-project corpus: its bytes, the root it ran in, its truth."""
    log = (folder / f"{name}.log").read_bytes()
    raw = json.loads((folder / f"{name}.truth.json").read_text(encoding="utf-8"))
    return log, raw["meta"]["root"], _truths(raw, log)


def family_run(name: str) -> Run:
    """A minimal log of `make_family_logs.py`."""
    log, root, truths = load(name, FAMILIES)
    return Run("families", name, "auto", log, root, tuple(truths))


def _truths(raw: dict[str, object], log: bytes) -> list[Truth]:
    meta: dict[str, object] = raw["meta"]  # type: ignore[assignment]
    root = str(meta["root"])
    line_style = "--tb=line" in meta.get("command", [])  # type: ignore[operator]
    # Colour codes split `path:line:` in `--color=yes` logs; the check must see plain text.
    text = _ANSI.sub("", log.decode("utf-8", "replace"))
    records: list[dict[str, object]] = raw["truth"]  # type: ignore[assignment]
    return [_truth(record, root, text, line_style) for record in records]


def _truth(record: dict[str, object], root: str, text: str, line_style: bool) -> Truth:
    path, line = str(record["path"]), record["line"]
    printed = isinstance(line, int) and any(
        form in text
        for form in (
            f"{path}:{line}:",
            f"{root}/{path}:{line}:",
            f'{root}/{path}", line {line}',
            f"file {root}/{path}, line {line}",
        )
    )
    if line_style and record["kind"] != "collect":
        # `--tb=line` prints one location per failed test, pytest's crash site, and none
        # for setup or teardown errors: the site is shown only where it is that one.
        printed = printed and record["kind"] == "failed" and record["crash"] == [path, line]
    definition = record["definition"]
    return Truth(
        test=str(record["nodeid"]) or None,
        env=record["env"] if isinstance(record["env"], str) else None,
        path=f"{LOCAL_ROOT}/{path}",
        line=line if isinstance(line, int) else None,
        printed=printed,
        message=str(record["message"]),
        crash_message=record["crash"] is not None,
        definition=(definition[0], definition[1]) if isinstance(definition, list) else None,
        families=families(record),
    )


def families(record: dict[str, object]) -> tuple[str, ...]:
    """The failure families a truth record belongs to (one record may be in several)."""
    kind, when = record["kind"], record["when"]
    exc = str(record.get("exc") or "")
    message = str(record["message"])
    out = []
    if kind == "collect":
        syntax = "SyntaxError" in message or "invalid syntax" in message
        out.append("collection: SyntaxError" if syntax else "collection")
    elif kind == "conftest":
        out.append("conftest import")
    elif when in ("setup", "teardown"):
        out.append(f"fixture {when} error")
        if exc.endswith("FixtureLookupError"):
            out.append("fixture not found")
        if "conftest.py" in str(record["path"]):
            out.append("conftest fixture")
    if record.get("hypothesis"):
        out.append("hypothesis, several failures" if record.get("group") else "hypothesis")
    elif record.get("group"):
        out.append("ExceptionGroup")
    if record.get("subtest"):
        out.append("subTest")
    if record.get("item") == "DoctestItem" or exc.startswith("doctest."):
        out.append("doctest")
    if record.get("item") == "TestCaseFunction" and not record.get("subtest"):
        out.append("unittest")
    if " " in str(record["path"]) or " " in str(record["nodeid"]).partition("::")[0]:
        out.append("path with a space")
    if not out:
        out.append("plain failure" if kind == "failed" else str(kind))
    return tuple(out)


def fixture_run(name: str) -> Run:
    log, root, truths = load(name)
    raw = json.loads((DATA / f"{name}.truth.json").read_text(encoding="utf-8"))
    command = " ".join(raw["meta"]["command"])
    style = next((s for s in _STYLES if f"--tb={s}" in command), "auto")
    if name.startswith("tox-") and "beta" in command:
        style = "auto"
    return Run("fixture", name, style, log, root, tuple(truths))


_STYLES = ("long", "short", "line", "native", "no")


@cache
def project_runs(project: str) -> tuple[Run, ...]:
    """Every run of one project of the independent corpus."""
    files: dict[str, bytes] = {}
    with tarfile.open(PROJECTS / f"{project}.tar.xz") as archive:
        for member in archive.getmembers():
            handle = archive.extractfile(member)
            if handle is not None:
                files[member.name] = handle.read()
    runs = []
    for name in sorted(n.removesuffix(".log") for n in files if n.endswith(".log")):
        log = files[f"{name}.log"]
        raw = json.loads(files[f"{name}.truth.json"].decode("utf-8"))
        tb = [o for o in raw["meta"]["options"] if o.startswith("--tb=")]
        style = tb[0].removeprefix("--tb=") if tb else "auto"
        runs.append(Run(project, name, style, log, raw["meta"]["root"], tuple(_truths(raw, log))))
    return tuple(runs)


def project_names() -> list[str]:
    return sorted(path.name.removesuffix(".tar.xz") for path in PROJECTS.glob("*.tar.xz"))


def parse(log: bytes, root: str, chunk: int | None = None) -> list[Diagnostic]:
    parser = DiagnosticParser(mapper_for(root))
    if chunk is None:
        return parser.feed(log) + parser.close()
    out: list[Diagnostic] = []
    for start in range(0, len(log), chunk):
        out += parser.feed(log[start : start + chunk])
    return out + parser.close()


def _matches(truth: Truth, diagnostic: Diagnostic, *, envs: bool = True) -> bool:
    if truth.test != diagnostic.test or (envs and truth.env != diagnostic.env):
        return False
    # When the log never prints the crash site (`--tb=no`, `--tb=line` crashes outside the
    # project, XPASS(strict)), the test id is all the output can give.
    if not truth.printed:
        return True
    return (truth.path, truth.line) == (diagnostic.path, diagnostic.line)


@dataclass(frozen=True, slots=True)
class Outcome:
    """One run's matching: which truths were found (and their diagnostics), what was left."""

    run: Run
    found: tuple[tuple[Truth, Diagnostic | None], ...]
    spurious: tuple[Diagnostic, ...]
    parsed: int


def match(run: Run, *, envs: bool = True) -> Outcome:
    errors = [d for d in parse(run.log, run.root) if d.severity is Severity.ERROR]
    unused = list(errors)
    found: list[tuple[Truth, Diagnostic | None]] = []
    # Exact sites first, so a test-id-only match cannot take another truth's diagnostic.
    for truth in sorted(run.truths, key=lambda truth: not truth.printed):
        hit = next((d for d in unused if _matches(truth, d, envs=envs)), None)
        if hit is not None:
            unused.remove(hit)
        found.append((truth, hit))
    return Outcome(run, tuple(found), tuple(unused), len(errors))


def add(result: Score, outcome: Outcome, truths: Iterable[Truth] | None = None) -> None:
    """Add `outcome` to `result`; with `truths`, only those truths (and no spurious)."""
    name = f"{outcome.run.source}/{outcome.run.name}"
    chosen = None if truths is None else set(map(id, truths))
    for truth, hit in outcome.found:
        if chosen is not None and id(truth) not in chosen:
            continue
        result.truths += 1
        if hit is None:
            result.missed.append((name, truth))
            continue
        result.found += 1
        if truth.crash_message:
            result.messages += 1
            first = truth.message.partition("\n")[0].strip()
            result.message_ok += first.removeprefix("AssertionError: ") in hit.message
    if chosen is not None:
        tests = {truth.test for truth in truths or ()}
        hits = sum(1 for truth, hit in outcome.found if id(truth) in chosen and hit is not None)
        others = sum(1 for diagnostic in outcome.spurious if diagnostic.test in tests)
        result.parsed += hits + others
        result.correct += hits
        result.spurious += [(name, d) for d in outcome.spurious if d.test in tests]
        return
    result.parsed += outcome.parsed
    result.correct += outcome.parsed - len(outcome.spurious)
    failing = {truth.test for truth in outcome.run.truths}
    for diagnostic in outcome.spurious:
        result.spurious.append((name, diagnostic))
        if diagnostic.test not in failing or diagnostic.test is None:
            result.invented.append((name, diagnostic))


def score(names: list[str], *, envs: bool = True) -> Score:
    """Match the parser's errors to pytest's truth; `envs=False` ignores tox env names."""
    result = Score()
    for name in names:
        add(result, match(fixture_run(name), envs=envs))
    return result


def score_runs(runs: Iterable[Run]) -> Score:
    result = Score()
    for run in runs:
        add(result, match(run))
    return result


@dataclass(slots=True)
class Table:
    """Scores over all runs, per failure family and per `--tb` style."""

    total: Score = field(default_factory=Score)
    families: dict[str, Score] = field(default_factory=dict)
    styles: dict[str, Score] = field(default_factory=dict)


def table(runs: Iterable[Run]) -> Table:
    result = Table()
    for run in runs:
        outcome = match(run)
        add(result.total, outcome)
        add(result.styles.setdefault(run.style, Score()), outcome)
        by_family: dict[str, list[Truth]] = {}
        for truth in run.truths:
            for family in truth.families:
                by_family.setdefault(family, []).append(truth)
        for family, truths in by_family.items():
            add(result.families.setdefault(family, Score()), outcome, truths)
    return result
