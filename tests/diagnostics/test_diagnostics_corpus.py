"""Recall and precision over every real pytest/tox log in the corpus."""

from __future__ import annotations

import pytest

from tests.diagnostics.corpus import DATA, LOCAL_ROOT, load, log_names, parse, score
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
