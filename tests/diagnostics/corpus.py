"""Load the committed corpus and score the parser against pytest's own truth."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from toxbridge.diagnostics import Diagnostic, DiagnosticParser, PathMapper, Severity

DATA = Path(__file__).resolve().parent / "data"
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

    @property
    def recall(self) -> float:
        return self.found / self.truths

    @property
    def precision(self) -> float:
        return self.correct / self.parsed


def log_names() -> list[str]:
    return sorted(path.name.removesuffix(".log") for path in DATA.glob("*.log"))


def mapper_for(root: str) -> PathMapper:
    return PathMapper([(root, LOCAL_ROOT)], root=LOCAL_ROOT)


def load(name: str) -> tuple[bytes, str, list[Truth]]:
    log = (DATA / f"{name}.log").read_bytes()
    raw = json.loads((DATA / f"{name}.truth.json").read_text(encoding="utf-8"))
    root = raw["meta"]["root"]
    # Colour codes split `path:line:` in `--color=yes` logs; the check must see plain text.
    text = _ANSI.sub("", log.decode("utf-8", "replace"))
    truths = [_truth(record, root, text) for record in raw["truth"]]
    return log, root, truths


def _truth(record: dict[str, object], root: str, text: str) -> Truth:
    path, line = str(record["path"]), record["line"]
    printed = isinstance(line, int) and any(
        form in text
        for form in (f"{path}:{line}:", f"{root}/{path}:{line}:", f'{root}/{path}", line {line}')
    )
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
    )


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


def score(names: list[str], *, envs: bool = True) -> Score:
    """Match the parser's errors to pytest's truth; `envs=False` ignores tox env names."""
    result = Score()
    for name in names:
        log, root, truths = load(name)
        errors = [d for d in parse(log, root) if d.severity is Severity.ERROR]
        unused = list(errors)
        # Exact sites first, so a test-id-only match cannot take another truth's diagnostic.
        for truth in sorted(truths, key=lambda truth: not truth.printed):
            hit = next((d for d in unused if _matches(truth, d, envs=envs)), None)
            if hit is None:
                result.missed.append((name, truth))
                continue
            unused.remove(hit)
            result.found += 1
            if truth.crash_message:
                result.messages += 1
                first = truth.message.partition("\n")[0].strip()
                result.message_ok += first.removeprefix("AssertionError: ") in hit.message
        result.truths += len(truths)
        result.parsed += len(errors)
        result.correct += len(errors) - len(unused)
        result.spurious += [(name, d) for d in unused]
    return result
