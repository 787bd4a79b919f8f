"""Code lenses for a test file: "▶ Run test" on each test, class and the file, with the last
result once known. Pure: the handler turns `Lens`es into LSP CodeLens objects.

A lens's command is one the bridge executes itself (`toxbridge.runTests`,
`toxbridge.runFile`), so it works in any LSP client without client-side code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from toxbridge.lsp.testing.scan import ScannedTest

RUN_TESTS = "toxbridge.runTests"
RUN_FILE = "toxbridge.runFile"

_MARKS = {"passed": "✓", "failed": "✗", "errored": "⚠", "skipped": "↷"}


@dataclass(frozen=True, slots=True)
class LastResult:
    state: str  # passed, failed, errored, skipped
    duration_s: float | None


@dataclass(frozen=True, slots=True)
class Lens:
    line: int  # 0-based, as LSP counts
    title: str
    command: str
    arguments: tuple[Mapping[str, Any], ...]


def result_title(result: LastResult) -> str:
    mark = _MARKS.get(result.state, "•")
    took = f" {result.duration_s:.2f} s" if result.duration_s is not None else ""
    return f"{mark} {result.state}{took}"


def file_lenses(
    uri: str,
    env: str,
    tests: Sequence[ScannedTest],
    results: Mapping[str, LastResult],
) -> list[Lens]:
    """The lenses of one file, whose tests run in `env`; `results` maps a test's key
    (`file::Class::name`, as in `ScannedTest.key`) to its last result there."""
    if not tests:
        return []
    lenses = [Lens(0, "▶ Run tests in file", RUN_FILE, ({"uri": uri, "env": env},))]
    for test in tests:
        title = "▶ Run tests" if test.is_class else "▶ Run test"
        argument = {"ids": [f"{env}|{test.key}"], "env": env}
        lenses.append(Lens(test.line - 1, title, RUN_TESTS, (argument,)))
        result = results.get(test.key)
        if result is not None and not test.is_class:
            lenses.append(Lens(test.line - 1, result_title(result), RUN_TESTS, (argument,)))
    return lenses
