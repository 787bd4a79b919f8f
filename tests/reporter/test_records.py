"""What the reporter sends from a real tox env, checked against pytest's own output.

One run of the sample's `py` env (pytest 9 from the interpreter's site-packages) with
`-rA`; the truth is what pytest printed: its short test summary, its counts line, its
failure texts. The definitions' lines come from Python's own parser of the test file.
"""

from __future__ import annotations

import ast
import asyncio
import re
from pathlib import Path

import pytest

from tests.reporter.conftest import (
    ToxRun,
    as_short_summary,
    run_tox,
    short_summary,
    summary_counts,
)
from toxbridge.reporter import events

OUTCOMES = "tests/test_outcomes.py"


@pytest.fixture(scope="module")
def broken(sample: Path) -> ToxRun:
    return asyncio.run(run_tox(sample, "-e", "py", "--", "-rA", "broken"))


def test_every_record_kind_arrives_in_session_order(outcomes: ToxRun) -> None:
    kinds = [type(record) for record in outcomes.records]
    assert outcomes.notes == []
    assert kinds[0] is events.Session
    assert kinds[-1] is events.Finish
    assert set(kinds) == set(events.RECORD_TYPES.values())
    collection = kinds.index(events.Collection)
    assert all(kind is events.Collect for kind in kinds[1:collection])
    assert events.Start not in kinds[:collection]
    assert {record.env for record in outcomes.records} == {"py"}
    assert len({record.sid for record in outcomes.records}) == 1


def test_session_describes_the_env(outcomes: ToxRun, sample: Path) -> None:
    (session,) = outcomes.of(events.Session)
    assert re.search(rf"pytest-{re.escape(session.pytest)}\b", outcomes.stdout)
    assert re.search(rf"Python {re.escape(session.python)}\b", outcomes.stdout)
    assert session.rootdir == session.invocation_dir == str(sample)
    assert session.args == ("-p", "no:cacheprovider", "-rA", "tests")


def test_outcomes_are_the_ones_pytest_summarises(outcomes: ToxRun) -> None:
    assert sorted(as_short_summary(outcomes)) == sorted(short_summary(outcomes.stdout).elements())
    assert {report.outcome for report in outcomes.reports()} == set(events.OUTCOMES)


def test_counts_and_exit_status_are_pytests(outcomes: ToxRun) -> None:
    (finish,) = outcomes.of(events.Finish)
    assert summary_counts(outcomes.stdout) == [dict(finish.counts)]
    assert finish.exitstatus == 1
    assert re.search(r"py: exit 1 \(", outcomes.stdout)


def phases(run: ToxRun, test: str) -> list[tuple[str, str]]:
    return [(r.when, r.outcome) for r in run.reports() if r.nodeid == f"{OUTCOMES}::{test}"]


def test_an_error_in_setup_skips_the_call(outcomes: ToxRun) -> None:
    assert phases(outcomes, "test_errors_in_setup") == [("setup", "error"), ("teardown", "passed")]
    setup = outcomes.report("test_errors_in_setup", "setup")
    assert setup.message == "RuntimeError: setup went wrong"
    assert setup.message in outcomes.stdout
    assert setup.crash is not None
    assert setup.crash.path.endswith(OUTCOMES)


def test_an_error_in_teardown_follows_a_passed_call(outcomes: ToxRun) -> None:
    assert phases(outcomes, "test_errors_in_teardown") == [
        ("setup", "passed"),
        ("call", "passed"),
        ("teardown", "error"),
    ]
    assert outcomes.report("test_errors_in_teardown", "teardown").message == (
        "RuntimeError: teardown went wrong"
    )


def test_a_failed_call_then_an_error_in_teardown(outcomes: ToxRun) -> None:
    test = "test_fails_then_errors_in_teardown"
    assert phases(outcomes, test) == [
        ("setup", "passed"),
        ("call", "failed"),
        ("teardown", "error"),
    ]
    short = short_summary(outcomes.stdout)
    assert short[("FAILED", f"{OUTCOMES}::{test}")] == short[("ERROR", f"{OUTCOMES}::{test}")] == 1


def test_every_test_starts_before_its_phases(outcomes: ToxRun) -> None:
    started: set[str] = set()
    for record in outcomes.records:
        if isinstance(record, events.Start):
            started.add(record.nodeid)
        if isinstance(record, events.Report):
            assert record.nodeid in started
    assert len(started) == len(outcomes.of(events.Start))


def shown(value: str, kind: str) -> str:
    return repr(value) if kind == "str" else value


def test_failed_comparisons_carry_both_sides(outcomes: ToxRun) -> None:
    compared = {r.nodeid.rpartition("::")[2]: r for r in outcomes.reports() if r.compare}
    assert sorted(compared) == [
        "test_fails_on_lists",
        "test_fails_on_text",
        "test_fails_then_errors_in_teardown",
        "test_method",
        "test_nested",
        "test_parametrized[three]",
        "test_xfails",
    ]
    for report in compared.values():
        compare = report.compare
        assert compare is not None
        assert report.crash is not None
        left, right = (
            shown(compare.left, compare.left_type),
            shown(compare.right, compare.right_type),
        )
        # pytest's own message shows the same two values around the same operator
        assert f"assert {left} {compare.op} {right}" in report.crash.message
    text = compared["test_fails_on_text"].compare
    assert text is not None
    assert (text.left, text.right) == ("first line\nthird line\n", "first line\nsecond line\n")


def test_failures_without_a_comparison_carry_none(outcomes: ToxRun) -> None:
    for test in ("test_fails_without_a_comparison", "test_captures_everything"):
        report = outcomes.report(test)
        assert report.outcome == "failed"
        assert report.compare is None


def test_failures_carry_pytests_text_and_the_crash_site(outcomes: ToxRun) -> None:
    lines = (Path(outcomes.of(events.Session)[0].rootdir) / OUTCOMES).read_text().splitlines()
    for report in outcomes.reports():
        if report.outcome not in ("failed", "error") or report.nodeid.endswith("strictly"):
            continue
        assert report.longreprtext
        assert report.longreprtext in outcomes.stdout.replace("\r", "")
        assert report.crash is not None
        assert report.crash.path.endswith(OUTCOMES)
        assert report.traceback[-1] == (report.crash.path, report.crash.line)
        assert report.traceback[0][0].endswith(OUTCOMES)  # from the test's own frame on
        assert report.crash.line is not None
        assert lines[report.crash.line - 1].strip() in report.longreprtext


def test_skips_and_xfails_carry_pytests_reasons(outcomes: ToxRun) -> None:
    for test, reason in [
        ("test_skipped", "skipped on purpose"),
        ("test_skips_itself", "decided at run time"),
        ("test_xfails", "a known bug"),
        ("test_xpasses", "fixed by luck"),
    ]:
        (report,) = (r for r in outcomes.reports() if r.nodeid.endswith(test) and r.reason)
        assert report.reason == reason
        assert re.search(rf"^(SKIPPED|XFAIL|XPASS) .*{reason}$", outcomes.stdout, re.MULTILINE)


def test_captured_output_comes_in_sections(outcomes: ToxRun) -> None:
    report = outcomes.report("test_captures_everything")
    sections = dict(report.sections)
    assert sections == {
        "Captured stdout call": "to stdout\n",
        "Captured stderr call": "to stderr\n",
        "Captured log call": sections["Captured log call"],
    }
    assert "to the log" in sections["Captured log call"]
    for title, text in report.sections:
        assert re.search(rf"-+ {title} -+\n{re.escape(text)}", outcomes.stdout)


def test_warnings_are_recorded_where_they_were_raised(outcomes: ToxRun) -> None:
    (warning,) = outcomes.of(events.Warning)
    assert warning.nodeid == f"{OUTCOMES}::test_warns"
    assert (warning.category, warning.message) == ("UserWarning", "a warning from a test")
    assert f"{warning.category}: {warning.message}" in outcomes.stdout


def functions(path: Path) -> dict[tuple[str, ...], ast.FunctionDef]:
    """(class, ..., function) → its definition, from Python's parser."""
    found: dict[tuple[str, ...], ast.FunctionDef] = {}

    def visit(node: ast.AST, scope: tuple[str, ...]) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                visit(child, (*scope, child.name))
            elif isinstance(child, ast.FunctionDef):
                found[(*scope, child.name)] = child

    visit(ast.parse(path.read_text()), ())
    return found


def def_lines(path: Path) -> dict[tuple[str, ...], int]:
    """(class, ..., function) → the line of its `def`."""
    return {scope: node.lineno for scope, node in functions(path).items()}


def decorated_lines(path: Path) -> dict[tuple[str, ...], int]:
    """(class, ..., function) → the line its definition starts on, its first decorator's."""
    return {
        scope: min([node.lineno, *(decorator.lineno for decorator in node.decorator_list)])
        for scope, node in functions(path).items()
    }


def test_collection_lists_every_test_at_its_definition(outcomes: ToxRun, sample: Path) -> None:
    (collection,) = outcomes.of(events.Collection)
    items = {item.nodeid: item for item in collection.items}
    assert list(items) == [start.nodeid for start in outcomes.of(events.Start)]
    lines = def_lines(sample / OUTCOMES)
    for item in collection.items:
        assert item.path == str(sample / OUTCOMES)
        assert item.line == lines[(*item.classes, item.function)]
        assert item.nodeid == "::".join([OUTCOMES, *item.classes, item.name])
    assert items[f"{OUTCOMES}::TestOuter::TestInner::test_nested"].classes == (
        "TestOuter",
        "TestInner",
    )
    params = [item.param for item in collection.items if item.function == "test_parametrized"]
    assert params == ["one", "two", "three"]
    assert collection.deselected == 0


def test_collection_puts_tests_behind_wrappers_and_long_decorators_at_their_def(
    sample: Path,
) -> None:
    """The line comes from each test's code (the function behind functools.wraps), as
    pytest's own location finds it, then past its decorators to the `def`."""
    run = asyncio.run(run_tox(sample, "-e", "py", "--", "locations"))
    (collection,) = run.of(events.Collection)
    source = sample / "locations" / "test_locations.py"
    lines = def_lines(source)
    scopes = {item.nodeid: (*item.classes, item.function) for item in collection.items}
    assert set(scopes.values()) == set(lines), "every test def of the file is collected"
    assert {item.nodeid: item.line for item in collection.items} == {
        nodeid: lines[scope] for nodeid, scope in scopes.items()
    }
    # pytest's own location (each test's start record) is its first decorator's line
    first_lines = decorated_lines(source)
    starts = {start.nodeid: start.line for start in run.of(events.Start)}
    assert starts == {nodeid: first_lines[scope] for nodeid, scope in scopes.items()}


def test_collection_errors_point_at_their_cause(broken: ToxRun, sample: Path) -> None:
    errors = {r.nodeid: r for r in broken.of(events.Collect) if r.outcome == "error"}
    assert sorted(errors) == ["broken/test_import_error.py", "broken/test_syntax_error.py"]
    assert [("ERROR", nodeid) for nodeid in sorted(errors)] == sorted(short_summary(broken.stdout))
    for error in errors.values():
        assert error.crash is not None
        assert error.crash.path == str(sample / error.nodeid)
        # pytest's text ends with the cause's own line: E   <its message>
        last = [line for line in error.longreprtext.splitlines() if line.startswith("E   ")][-1]
        assert last[len("E   ") :].strip() == error.message == error.crash.message
    sites = {nodeid: error.crash for nodeid, error in errors.items()}
    assert sites["broken/test_import_error.py"] == events.Crash(
        str(sample / "broken/test_import_error.py"),
        1,
        "ModuleNotFoundError: No module named 'a_module_that_does_not_exist'",
    )
    syntax = sites["broken/test_syntax_error.py"]
    assert syntax is not None
    text = errors["broken/test_syntax_error.py"].longreprtext
    assert f'test_syntax_error.py", line {syntax.line}' in text
    (finish,) = broken.of(events.Finish)
    assert summary_counts(broken.stdout) == [dict(finish.counts)]
    assert finish.exitstatus == 2


def test_a_strict_xpass_fails_with_pytests_words(outcomes: ToxRun) -> None:
    report = outcomes.report("test_xpasses_strictly")
    assert (report.outcome, report.crash, report.traceback) == ("failed", None, ())
    assert report.message == report.longreprtext == "[XPASS(strict)] must fail"
    assert f"FAILED {report.nodeid} - {report.message}" in outcomes.stdout
