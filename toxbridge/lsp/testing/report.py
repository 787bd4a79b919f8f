"""`tox/testResults` entries from exact results, and their batching. Pure: JSON values in
the shapes the README's "LSP extensions" documents, with the uris a `Uri` function gives.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from toxbridge.diagnostics.exact import COLLECT, ExactResult, Failure
from toxbridge.diagnostics.model import Location
from toxbridge.lsp.testing.tree import make_id

Uri = Callable[[str], str]  # a local path → its uri
Json = dict[str, Any]


def lsp_range(line: int) -> Json:
    """The whole 1-based `line`, as an LSP range."""
    start = max(line - 1, 0)
    return {"start": {"line": start, "character": 0}, "end": {"line": start + 1, "character": 0}}


def location_json(location: Location, uri: Uri) -> Json:
    return {"uri": uri(location.path), "range": lsp_range(location.line)}


def label(nodeid: str) -> str:
    """What an editor names the test: the last part of its node id."""
    return nodeid.rpartition("::")[2] or nodeid.rstrip("/").rpartition("/")[2]


def result_json(result: ExactResult, uri: Uri) -> Json | None:
    """The entry for one result, or None for what an editor shows nothing for (a
    collector that collected fine: its tests say how it went)."""
    if result.kind == COLLECT and not result.failures:
        return None
    entry: Json = {"id": make_id(result.env, result.nodeid), "state": result.state}
    entry["label"] = label(result.nodeid)
    if result.duration_s is not None:
        entry["durationMs"] = round(result.duration_s * 1000, 3)
    if result.definition is not None:
        entry.update(location_json(result.definition, uri))
    if result.failures:
        entry.update(_failures_json(result.failures, uri))
    elif result.reason:
        entry["message"] = result.reason
    return entry


def _failures_json(failures: tuple[Failure, ...], uri: Uri) -> Json:
    first = failures[0]
    entry: Json = {
        "message": first.message if len(failures) == 1 else _messages(failures),
        "text": "\n\n".join(failure.text for failure in failures),
        "location": location_json(first.location, uri),
        "stack": [
            {**location_json(frame, uri), "label": f"{_base(frame.path)}:{frame.line}"}
            for frame in reversed(first.stack)  # innermost first, as a stack trace reads
        ],
    }
    compared = next((f for f in failures if f.expected is not None), None)
    if compared is not None:
        entry.update(expected=compared.expected, actual=compared.actual)
    return entry


def _messages(failures: tuple[Failure, ...]) -> str:
    return "; ".join(
        failure.message if failure.when == "call" else f"{failure.when}: {failure.message}"
        for failure in failures
    )


def _base(path: str) -> str:
    return path.rpartition("/")[2]


class ResultBatch:
    """Entries waiting for the next `tox/testResults` of a run: the latest per test id, in
    the order the tests first changed."""

    def __init__(self) -> None:
        self._pending: dict[str, Json] = {}

    def add(self, entry: Json) -> None:
        self._pending[entry["id"]] = entry

    def take(self) -> list[Json]:
        taken, self._pending = list(self._pending.values()), {}
        return taken
