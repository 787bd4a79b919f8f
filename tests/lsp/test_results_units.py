"""A run's results in the bridge (lsp/results.py), fed records captured from real runs
(tests/diagnostics/data/exact/): what is published, to whom, and what stays."""

from __future__ import annotations

from lsprotocol import types

from tests.diagnostics.test_exact import records
from toxbridge.diagnostics import PathMapper
from toxbridge.lsp.publish import BridgeDiagnostics
from toxbridge.lsp.results import RunResults, has_posargs, selected_envs

WS = "/ws"
OUTCOMES = f"file://{WS}/tests/test_outcomes.py"


class Editor:
    """What a client holds: the last list published per uri."""

    def __init__(self) -> None:
        self.shown: dict[str, list[types.Diagnostic]] = {}
        self.publishes = 0

    def publish(self, uri: str, items: list[types.Diagnostic]) -> None:
        self.shown[uri] = items
        self.publishes += 1

    def codes(self, uri: str) -> set[str]:
        return {str(item.code) for item in self.shown.get(uri, [])}


def run(diagnostics: BridgeDiagnostics, capture: str, args: list[str]) -> RunResults:
    results = RunResults(
        diagnostics, PathMapper([("/project", WS)], "/project"), WS, args, events_on=True
    )
    results.records(records(capture))
    results.close(complete=True)
    return results


def test_a_run_publishes_each_failing_test_at_its_crash() -> None:
    editor = Editor()
    results = run(BridgeDiagnostics(editor.publish), "outcomes", ["-e", "py"])
    shown = editor.shown[OUTCOMES]
    # 9 failed tests (one with a teardown error too) and 2 errored ones
    assert len(shown) == results.count == 12
    by_code = {str(d.code): d for d in shown if "lists" in str(d.code)}
    (lists,) = by_code.values()
    assert lists.range.start.line == 15 - 1
    assert lists.message == "[py] assert [1, 2, 3] == [1, 2, 4]"
    assert lists.source == "pytest"
    (related,) = lists.related_information or []
    assert related.location.range.start.line == 14 - 1


def test_results_entries_carry_states_locations_and_compared_values() -> None:
    results = run(BridgeDiagnostics(Editor().publish), "outcomes", ["-e", "py"])
    entries = {entry["id"]: entry for entry in results.take_results()}
    lists = entries["py|tests/test_outcomes.py::test_fails_on_lists"]
    assert lists["state"] == "failed"
    assert (lists["expected"], lists["actual"]) == ("[1, 2, 4]", "[1, 2, 3]")
    assert lists["location"] == {
        "uri": OUTCOMES,
        "range": {"start": {"line": 14, "character": 0}, "end": {"line": 15, "character": 0}},
    }
    assert lists["uri"] == OUTCOMES
    assert lists["range"]["start"]["line"] == 13  # the def
    assert lists["label"] == "test_fails_on_lists"
    assert lists["durationMs"] > 0
    assert lists["stack"][0]["label"] == "test_outcomes.py:15"
    assert "At index 2 diff" in lists["text"]
    assert entries["py|tests/test_outcomes.py::test_skipped"]["message"] == "skipped on purpose"
    assert entries["py|tests/test_outcomes.py::test_passes"]["state"] == "passed"
    both = entries["py|tests/test_outcomes.py::test_fails_then_errors_in_teardown"]
    assert both["message"].endswith("; teardown: RuntimeError: teardown went wrong")
    assert results.take_results() == []  # taken once


def test_a_partial_run_leaves_the_tests_it_did_not_run_alone() -> None:
    editor = Editor()
    diagnostics = BridgeDiagnostics(editor.publish)
    run(diagnostics, "outcomes", ["-e", "py"])
    before = editor.codes(OUTCOMES)
    partial = run(diagnostics, "partial", ["-e", "py", "--", "-k", "lists or parametrized"])
    assert editor.codes(OUTCOMES) == before
    assert len(editor.shown[OUTCOMES]) == 12
    assert partial.count == 2  # what the partial run itself found


def test_collection_errors_are_their_files_diagnostics() -> None:
    editor = Editor()
    run(BridgeDiagnostics(editor.publish), "broken", ["-e", "py", "--", "broken"])
    (import_error,) = editor.shown[f"file://{WS}/broken/test_import_error.py"]
    assert import_error.range.start.line == 0
    assert "collection failed: ModuleNotFoundError" in import_error.message
    assert import_error.code == "broken/test_import_error.py"


def test_progress_counts_come_from_the_events() -> None:
    results = run(BridgeDiagnostics(Editor().publish), "outcomes", ["-e", "py"])
    assert results.progress() == ("py: 5 passed, 9 failed, 2 errored, 3 skipped", 100)


def test_which_envs_and_whether_pytest_arguments() -> None:
    assert selected_envs(["-e", "a,b", "--env", "c", "-ed", "--env=e", "--", "-e", "x"]) == [
        "a", "b", "c", "d", "e",
    ]  # fmt: skip
    assert selected_envs(["r"]) == []
    assert not has_posargs(["-e", "py"])
    assert not has_posargs(["-e", "py", "--"])
    assert has_posargs(["-e", "py", "--", "-k", "x"])
