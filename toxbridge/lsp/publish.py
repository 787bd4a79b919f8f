"""Diagnostics as the editor gets them: toxbridge's `Diagnostic`s → LSP ones, kept per
owner (a test, a file's collection) and published per file as they change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from lsprotocol import types

from toxbridge.diagnostics.model import Diagnostic, Location, Severity
from toxbridge.lsp.testing.store import DiagnosticStore, Owner

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


class BridgeDiagnostics:
    """What the editor shows, for the bridge's whole life: every run (its own, run-on-save,
    watched) sets the diagnostics of the owners it reported on (lsp/testing/store.py), so
    runs that overlap or run only some tests never wipe each other's."""

    def __init__(self, publish: Publish, related: bool = True) -> None:
        self._related = related
        self.store: DiagnosticStore[types.Diagnostic] = DiagnosticStore(publish)

    def replace(self, changes: Mapping[Owner, Iterable[Diagnostic]], workspace: str | None) -> None:
        self.store.replace(
            {
                owner: [
                    (path_to_uri(d.path, workspace), to_lsp(d, workspace, self._related))
                    for d in diagnostics
                ]
                for owner, diagnostics in changes.items()
            }
        )

    def settle(self, env: str, keep: Iterable[Owner]) -> None:
        self.store.settle(env, keep)
