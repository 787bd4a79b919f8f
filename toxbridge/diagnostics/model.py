"""The values the parser produces: small, frozen, and free of any editor protocol."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Location:
    """A place in a file, after path mapping; `line` is 1-based."""

    path: str
    line: int
    column: int | None = None


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One failure (or located warning) found in tox/pytest output.

    `line` is 1-based. When the output names a failing test but not a line (`--tb=no`,
    `XPASS(strict)`, `--tb=line` crashes outside the project), it is the test's definition
    when the output shows one and 1 otherwise.
    """

    path: str
    line: int
    column: int | None
    severity: Severity
    message: str
    test: str | None
    env: str | None
    definition: Location | None = None

    def to_dict(self) -> dict[str, object]:
        """The JSON shape used by `toxbridge parse --format json`."""
        return {
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "severity": self.severity.value,
            "message": self.message,
            "test": self.test,
            "env": self.env,
        }


@dataclass(frozen=True, slots=True)
class RunStatus:
    """What the progress bar shows so far; best effort from the progress output."""

    env: str | None = None
    passed: int = 0
    failed: int = 0
    percent: int | None = None
