"""Exact results from records of real runs (data/exact/, made by make_exact_records.py).

The captures say the project was at /project (the server's root); here the workspace is
/ws, so every location below has been mapped. `exists` answers from the src-layout
sample's real file list, the one fake here: the code under test is pure.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.diagnostics.make_exact_records import DATA, SRC_LAYOUT
from toxbridge.diagnostics.exact import ExactResult, ExactResults, PathResolver
from toxbridge.diagnostics.model import Location, Severity
from toxbridge.diagnostics.paths import PathMapper
from toxbridge.reporter import events

WS = "/ws"
OUTCOMES = "tests/test_outcomes.py"
WORKSPACE_FILES = frozenset(f"{WS}/{name}" for name in SRC_LAYOUT)


def records(name: str) -> list[events.Record]:
    found = list(events.read_lines((DATA / f"{name}.jsonl").read_bytes().splitlines()))
    assert found
    assert not [item for item in found if isinstance(item, events.BadRecord)]
    return [item for item in found if not isinstance(item, events.BadRecord)]


def resolver(workspace: str | None = WS, files: frozenset[str] = WORKSPACE_FILES) -> PathResolver:
    mappings = [("/project", workspace)] if workspace else []
    return PathResolver(PathMapper(mappings, root="/project"), workspace, files.__contains__)


def final(name: str, paths: PathResolver | None = None) -> dict[str, ExactResult]:
    """Each test's (and collector's) last result of the capture `name`."""
    results = ExactResults(paths or resolver())
    return {f"{r.kind}:{r.nodeid}": r for r in results.feed(records(name))}


def tid(name: str) -> str:
    return f"test:{OUTCOMES}::{name}"


@pytest.fixture(scope="module")
def outcomes() -> dict[str, ExactResult]:
    return final("outcomes")


def at(line: int, path: str = OUTCOMES) -> Location:
    return Location(f"{WS}/{path}", line)


def test_states_agree_with_pytest_counts(outcomes: dict[str, ExactResult]) -> None:
    (finish,) = [r for r in records("outcomes") if isinstance(r, events.Finish)]
    states = {k: r.state for k, r in outcomes.items() if r.kind == "test"}
    tally = {state: list(states.values()).count(state) for state in set(states.values())}
    # pytest: 5 passed, 9 failed, 2 skipped, 1 xfailed, 1 xpassed, 3 errors (one of which
    # is the teardown of a test that had failed already)
    assert dict(finish.counts) == {
        "passed": 5, "failed": 9, "skipped": 2, "xfailed": 1, "xpassed": 1, "error": 3,
    }  # fmt: skip
    assert tally == {"passed": 5, "failed": 9, "skipped": 3, "errored": 2}
    assert states[tid("test_xfails")] == "skipped"
    assert states[tid("test_xpasses")] == "passed"
    assert states[tid("test_errors_in_teardown")] == "errored"
    assert states[tid("test_fails_then_errors_in_teardown")] == "failed"


def test_a_failed_comparison(outcomes: dict[str, ExactResult]) -> None:
    result = outcomes[tid("test_fails_on_lists")]
    (failure,) = result.failures
    assert failure.when == "call"
    assert failure.location == at(15)
    assert failure.message == "assert [1, 2, 3] == [1, 2, 4]"
    assert failure.text.startswith("def test_fails_on_lists():")
    assert "At index 2 diff" in failure.text
    assert (failure.expected, failure.actual) == ("[1, 2, 4]", "[1, 2, 3]")
    assert result.definition == at(14)
    assert result.duration_s is not None
    assert result.duration_s > 0
    text = outcomes[tid("test_fails_on_text")].failures[0]
    assert (text.expected, text.actual) == ("first line\nsecond line\n", "first line\nthird line\n")


def test_only_equality_has_expected_and_actual(outcomes: dict[str, ExactResult]) -> None:
    for name in (
        "test_parametrized[three]",
        "TestOuter::test_method",
        "TestOuter::TestInner::test_nested",
    ):
        (failure,) = outcomes[tid(name)].failures
        assert (failure.expected, failure.actual) == (None, None)


def test_setup_and_teardown_errors(outcomes: dict[str, ExactResult]) -> None:
    (setup,) = outcomes[tid("test_errors_in_setup")].failures
    assert (setup.when, setup.location, setup.message) == (
        "setup", at(53), "RuntimeError: setup went wrong",
    )  # fmt: skip
    call, teardown = outcomes[tid("test_fails_then_errors_in_teardown")].failures
    assert (call.when, call.location) == ("call", at(71))
    assert (teardown.when, teardown.location) == ("teardown", at(59))
    messages = [
        d.message for d in outcomes[tid("test_fails_then_errors_in_teardown")].diagnostics()
    ]
    assert messages == [
        "AssertionError: assert {'key': 1} == {'key': 2}",
        "error at teardown: RuntimeError: teardown went wrong",
    ]


def test_no_location_falls_back_to_the_definition(outcomes: dict[str, ExactResult]) -> None:
    result = outcomes[tid("test_xpasses_strictly")]
    (failure,) = result.failures
    assert failure.message == "[XPASS(strict)] must fail"
    assert failure.location == result.definition == at(46)


def test_skips_have_reasons_and_no_diagnostics(outcomes: dict[str, ExactResult]) -> None:
    for name, reason in [
        ("test_skipped", "skipped on purpose"),
        ("test_skips_itself", "decided at run time"),
        ("test_xfails", "a known bug"),
    ]:
        result = outcomes[tid(name)]
        assert (result.state, result.reason, result.diagnostics()) == ("skipped", reason, [])


def test_diagnostics_carry_test_env_and_definition(outcomes: dict[str, ExactResult]) -> None:
    (diagnostic,) = outcomes[tid("test_captures_everything")].diagnostics()
    assert (diagnostic.path, diagnostic.line) == (f"{WS}/{OUTCOMES}", 87)
    assert diagnostic.message == "AssertionError: with captured output"
    assert diagnostic.severity is Severity.ERROR
    assert (diagnostic.test, diagnostic.env) == (f"{OUTCOMES}::test_captures_everything", "py")
    assert diagnostic.definition == at(83)


def test_src_layout_maps_the_installed_copy_to_src() -> None:
    results = final("src-layout")
    ops, calc = "src/calc/ops.py", "tests/test_calc.py"
    expected = {
        "test_divides_by_zero": (at(2, ops), [at(9, calc), at(2, ops)]),
        "test_checks_in_the_package": (at(6, ops), [at(13, calc), at(6, ops)]),
        "test_compares": (at(17, calc), [at(17, calc)]),
        # the deepest frame in the project, not the standard library's
        "test_fails_in_the_standard_library": (at(13, ops), [at(21, calc), at(13, ops)]),
        "test_fixture_crashes_in_the_package": (
            at(2, ops),
            [at(8, "tests/conftest.py"), at(2, ops)],
        ),
    }
    for name, (location, stack) in expected.items():
        (failure,) = results[f"test:{calc}::{name}"].failures
        assert (failure.location, list(failure.stack)) == (location, stack), name
    assert results[f"test:{calc}::test_fixture_crashes_in_the_package"].state == "errored"


def test_src_layout_without_the_source_stays_at_the_test() -> None:
    results = final("src-layout", resolver(files=frozenset()))
    (failure,) = results["test:tests/test_calc.py::test_divides_by_zero"].failures
    assert failure.location == at(9, "tests/test_calc.py")


def test_collection_errors_at_their_location() -> None:
    results = final("broken")
    import_error = results["collect:broken/test_import_error.py"]
    assert import_error.state == "errored"
    (failure,) = import_error.failures
    assert failure.location == at(1, "broken/test_import_error.py")
    assert failure.message == "ModuleNotFoundError: No module named 'a_module_that_does_not_exist'"
    (diagnostic,) = import_error.diagnostics()
    assert diagnostic.message.startswith("collection failed: ModuleNotFoundError")
    (syntax,) = results["collect:broken/test_syntax_error.py"].failures
    assert (syntax.location, syntax.message) == (
        at(1, "broken/test_syntax_error.py"), "SyntaxError: invalid syntax",
    )  # fmt: skip
    assert results["collect:broken/test_fine.py"].state == "passed"


def test_a_partial_run_names_only_what_it_ran() -> None:
    tests = {r.nodeid for r in final("partial").values() if r.kind == "test"}
    assert tests == {
        f"{OUTCOMES}::test_fails_on_lists",
        *(f"{OUTCOMES}::test_parametrized[{case}]" for case in ("one", "two", "three")),
    }


def test_results_come_as_records_do_whatever_the_batches() -> None:
    """One record at a time: every report changes its test at once (a pass clears it
    before the run ends), and the last results equal a single batch's."""
    items = records("outcomes")
    whole = final("outcomes")
    results = ExactResults(resolver())
    last: dict[str, ExactResult] = {}
    states: list[tuple[str, str]] = []
    for record in items:
        for result in results.feed([record]):
            last[f"{result.kind}:{result.nodeid}"] = result
            states.append((result.nodeid, result.state))
    assert last == whole
    assert states.index((f"{OUTCOMES}::test_passes", "started")) < states.index(
        (f"{OUTCOMES}::test_passes", "passed")
    )


def test_without_a_workspace_project_paths_are_what_is_not_installed() -> None:
    results = final("src-layout", resolver(workspace=None))
    (failure,) = results["test:tests/test_calc.py::test_divides_by_zero"].failures
    assert failure.location == Location("/project/tests/test_calc.py", 9)


def test_the_captures_are_real_runs() -> None:
    """Guard against hand edits: every capture has a session, its finish, and records
    that the format reads back exactly."""
    for path in sorted(Path(DATA).glob("*.jsonl")):
        lines = path.read_bytes().splitlines(keepends=True)
        decoded = [events.decode_line(line) for line in lines]
        assert [events.encode(record) for record in decoded] == lines
        kinds = [record.kind for record in decoded]
        assert kinds[0] is events.Kind.SESSION
        assert kinds[-1] is events.Kind.FINISH
