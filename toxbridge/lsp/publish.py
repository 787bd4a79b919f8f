"""Diagnostics from the parser, published per file as they complete.

A run starts with an empty set. Each new failure republishes its file's list, so the
editor shows failures while tox still runs. When the run ends, files that had
diagnostics from an earlier run and have none now get `[]`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from lsprotocol import types

from toxbridge.diagnostics.model import Diagnostic, Location, Severity

SOURCE = "pytest"

Publish = Callable[[str, list[types.Diagnostic]], None]


def path_to_uri(path: str, workspace: str | None) -> str:
    local = Path(path)
    if not local.is_absolute() and workspace is not None:
        local = Path(workspace) / local
    return local.as_uri() if local.is_absolute() else path


def _range(line: int, column: int | None) -> types.Range:
    start = types.Position(line=max(line - 1, 0), character=max((column or 1) - 1, 0))
    # Up to the start of the next line: the whole line, whatever its length.
    return types.Range(start=start, end=types.Position(line=start.line + 1, character=0))


def to_lsp(diagnostic: Diagnostic, workspace: str | None, related: bool = True) -> types.Diagnostic:
    information = None
    definition: Location | None = diagnostic.definition
    if related and definition is not None and diagnostic.test:
        information = [
            types.DiagnosticRelatedInformation(
                location=types.Location(
                    uri=path_to_uri(definition.path, workspace),
                    range=_range(definition.line, definition.column),
                ),
                message=f"{diagnostic.test} is defined here",
            )
        ]
    severity = (
        types.DiagnosticSeverity.Warning
        if diagnostic.severity is Severity.WARNING
        else types.DiagnosticSeverity.Error
    )
    env = f"[{diagnostic.env}] " if diagnostic.env else ""
    return types.Diagnostic(
        range=_range(diagnostic.line, diagnostic.column),
        message=f"{env}{diagnostic.message}",
        severity=severity,
        code=diagnostic.test,
        source=SOURCE,
        related_information=information,
    )


class DiagnosticsPublisher:
    """Owns what the editor shows for the bridge; one instance for the bridge's life."""

    def __init__(self, publish: Publish, related: bool = True) -> None:
        self._publish = publish
        self._related = related
        self._shown: set[str] = set()  # uris with a non-empty list in the editor
        self._run: dict[str, list[types.Diagnostic]] = {}

    def begin_run(self) -> None:
        self._run = {}

    @property
    def count(self) -> int:
        return sum(len(items) for items in self._run.values())

    def add(self, diagnostics: Iterable[Diagnostic], workspace: str | None) -> None:
        touched = set()
        for diagnostic in diagnostics:
            uri = path_to_uri(diagnostic.path, workspace)
            self._run.setdefault(uri, []).append(to_lsp(diagnostic, workspace, self._related))
            touched.add(uri)
        for uri in sorted(touched):
            self._publish(uri, list(self._run[uri]))
            self._shown.add(uri)

    def end_run(self, complete: bool) -> None:
        """Clear files that passed; only a complete run proves they did."""
        if not complete:
            return
        for uri in sorted(self._shown - self._run.keys()):
            self._publish(uri, [])
        self._shown = set(self._run)
