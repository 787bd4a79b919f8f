"""Turn tox + pytest terminal output into editor diagnostics, incrementally.

Pure: no sockets, no asyncio, no editor protocol, and no file is opened while parsing,
so a log can be parsed on a machine where its paths do not exist.
"""

from __future__ import annotations

from toxbridge.diagnostics.model import Diagnostic, Location, RunStatus, Severity
from toxbridge.diagnostics.parser import DiagnosticParser
from toxbridge.diagnostics.paths import PathMapper, is_project_path

__all__ = [
    "Diagnostic",
    "DiagnosticParser",
    "Location",
    "PathMapper",
    "RunStatus",
    "Severity",
    "is_project_path",
    "parse_bytes",
]


def parse_bytes(data: bytes, mapper: PathMapper | None = None) -> list[Diagnostic]:
    """Parse a whole log at once (a saved file, a test)."""
    parser = DiagnosticParser(mapper)
    return parser.feed(data) + parser.close()
