"""Recall and precision over every real pytest/tox log in the corpus."""

from __future__ import annotations

from functools import cache

import pytest

from tests.diagnostics.corpus import (
    DATA,
    LOCAL_ROOT,
    Run,
    Table,
    load,
    log_names,
    parse,
    project_names,
    project_runs,
    score,
    table,
)
from tests.diagnostics.corpus_projects import HELD_OUT, PROJECTS
from toxbridge.diagnostics import Severity

# pytest cannot report a conftest that breaks at start-up (no report hook runs), so that
# log has no truth file entries; `test_root_conftest_failure` checks it instead.
# `tox p --parallel-live` interleaves the envs' outputs with nothing saying which env a
# line is from: `test_parallel_live_output` checks that log without env names.
INTERLEAVED = "tox-parallel-live"
SCORED = [name for name in log_names() if name not in ("p9-root-conftest", INTERLEAVED)]


def test_corpus_is_present() -> None:
    assert len(SCORED) >= 20
    assert all((DATA / f"{name}.truth.json").exists() for name in SCORED)


def test_recall_and_precision_over_whole_corpus() -> None:
    result = score(SCORED)
    assert result.truths > 600
    assert result.missed == []
    assert result.spurious == []
    assert result.recall == 1.0
    assert result.precision == 1.0


def test_parallel_live_output() -> None:
    # every failure at its site with its message; which env it came from the output does
    # not say (tox prints each env's `commands[0]>` line, then both outputs, unmarked)
    result = score([INTERLEAVED], envs=False)
    assert result.truths >= 60
    assert (result.recall, result.precision) == (1.0, 1.0), (result.missed, result.spurious)
    assert result.message_ok == result.messages
    envs = {d.env for d in parse(*load(INTERLEAVED)[:2])}
    assert envs <= {"alpha", "beta"}, envs


def test_messages_carry_the_exception() -> None:
    result = score(SCORED)
    assert result.messages > 400
    assert result.message_ok / result.messages >= 0.97


@pytest.mark.parametrize("name", SCORED)
def test_each_log(name: str) -> None:
    result = score([name])
    assert (result.recall, result.precision) == (1.0, 1.0), (result.missed, result.spurious)


def test_unprinted_sites_are_few_and_expected() -> None:
    """Truth sites a log never prints: `--tb=no`, `--tb=line` crashes outside the project,
    XPASS(strict) (no traceback at all). Only the test id can be matched for those."""
    unprinted = {
        (name, truth.test) for name in SCORED for truth in load(name)[2] if not truth.printed
    }
    assert unprinted
    for name, test in unprinted:
        assert "line" in name or name.endswith("-no") or "xpass" in (test or ""), (name, test)


def test_definitions_match_report_location() -> None:
    checked = 0
    for name in SCORED:
        log, root, truths = load(name)
        definitions = {(t.test, t.env): t.definition for t in truths if t.definition}
        for diagnostic in parse(log, root):
            if diagnostic.definition is None:
                continue
            path, line = definitions[(diagnostic.test, diagnostic.env)]
            assert diagnostic.definition.path == f"{LOCAL_ROOT}/{path}"
            assert diagnostic.definition.line == line
            checked += 1
    assert checked > 150


def test_tox_envs_are_attributed() -> None:
    log, root, _ = load("tox-two-envs")
    envs = {d.env for d in parse(log, root) if d.severity is Severity.ERROR}
    assert envs == {"alpha", "beta"}


def test_root_conftest_failure() -> None:
    log, root, _ = load("p9-root-conftest")
    diagnostics = parse(log, root)
    assert [(d.path, d.line, d.test) for d in diagnostics] == [
        (f"{LOCAL_ROOT}/conftest.py", 1, None)
    ]
    assert diagnostics[0].message.startswith("ModuleNotFoundError: No module named")


def test_passing_output_and_logs_are_not_failures() -> None:
    for name in SCORED:
        log, root, _ = load(name)
        for diagnostic in parse(log, root):
            assert diagnostic.test != "tests/test_basic.py::test_pass_prints_location"
            assert "src/foo.py" not in diagnostic.path
            if diagnostic.severity is Severity.WARNING:
                assert diagnostic.message.startswith("DeprecationWarning: deprecated thing")


# The floors of issue 13, on the output of real projects' own test suites.
FLOOR = 0.99


def _project_runs() -> list[Run]:
    return [run for project in project_names() for run in project_runs(project)]


@cache
def _table() -> Table:
    return table(_project_runs())


def test_independent_corpus_is_present() -> None:
    assert project_names() == sorted(project.name for project in PROJECTS)
    runs = _project_runs()
    assert len(runs) == 20 * len(PROJECTS)
    assert {run.style for run in runs} == {"auto", "long", "short", "line", "native", "no"}
    assert set(HELD_OUT) < set(project_names())


def test_floors_per_tb_style_and_overall() -> None:
    result = _table()
    assert result.total.truths > 4000
    failing = {
        style: (round(score.recall, 4), round(score.precision, 4))
        for style, score in [("all", result.total), *result.styles.items()]
        if score.recall < FLOOR or score.precision < FLOOR
    }
    assert failing == {}


def test_no_failure_is_invented_from_captured_output() -> None:
    """Passing tests print inner pytest runs, logged tracebacks and `path:line: error`
    lines (with -rA); none of them, nor anything else, may name a test that passed."""
    assert _table().total.invented == []


@pytest.mark.parametrize("project", [p.name for p in PROJECTS])
def test_each_project_has_failures_of_its_own(project: str) -> None:
    """The mutations of the project's source make its own tests fail, not only ours."""
    own = {
        truth.test
        for run in project_runs(project)
        for truth in run.truths
        if truth.test and "test_tb_" not in truth.test
    }
    assert own
