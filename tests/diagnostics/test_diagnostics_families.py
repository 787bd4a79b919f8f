"""One minimal real log per failure family of issue 13 (`make_family_logs.py`).

Each log is what real pytest (or tox) printed for a tiny project built to show that family;
pytest's own reports are the truth. Every log must be parsed exactly: each failure at its
site, nothing more.
"""

from __future__ import annotations

import pytest

from tests.diagnostics.corpus import FAMILIES, LOCAL_ROOT, Run, family_run, match
from toxbridge.diagnostics import Diagnostic, PathMapper, parse_bytes
from toxbridge.diagnostics.formats import to_quickfix

NAMES = sorted(path.name.removesuffix(".log") for path in FAMILIES.glob("*.log"))


def _diagnostics(run: Run) -> list[Diagnostic]:
    outcome = match(run)
    assert [truth for truth, hit in outcome.found if hit is None] == []
    assert list(outcome.spurious) == []
    return [hit for _, hit in outcome.found if hit is not None]


def test_every_family_has_logs() -> None:
    families = {name.partition("-")[0] for name in NAMES}
    assert families == {
        "decoys", "fixtures", "groups", "hypothesis", "spaces", "subtests", "syntax", "tox"
    }  # fmt: skip


@pytest.mark.parametrize("name", NAMES)
def test_family_log_is_parsed_exactly(name: str) -> None:
    run = family_run(name)
    assert run.truths
    _diagnostics(run)


@pytest.mark.parametrize("name", ["fixtures-p9", "fixtures-p7-short"])
def test_fixture_errors_name_the_test_not_the_conftest(name: str) -> None:
    found = _diagnostics(family_run(name))
    assert {d.test for d in found} == {
        "tests/test_calc.py::test_missing",
        "tests/test_calc.py::test_uses_broken",
        "tests/test_calc.py::test_teardown",
        "tests/test_calc.py::test_fails_and_teardown",
    }
    assert len(found) == 5  # the last test fails, then errors in teardown
    assert all(d.line > 1 for d in found)  # no second diagnostic from the summary line
    (missing,) = [d for d in found if d.test == "tests/test_calc.py::test_missing"]
    assert "fixture 'no_such_fixture' not found" in missing.message


@pytest.mark.parametrize("name", ["spaces-p9", "spaces-p8-line"])
def test_paths_with_spaces(name: str) -> None:
    found = _diagnostics(family_run(name))
    tests = {"my tests/test_calc.py::test_div", "my tests/test_calc.py::test_eq"}
    assert {d.test for d in found} == tests


@pytest.mark.parametrize(("name", "words"), [
    ("hypothesis-p9", "Failing test case"),
    ("hypothesis-p7", "Falsifying example"),
])  # fmt: skip
def test_hypothesis_with_several_failures_is_one_failure(name: str, words: str) -> None:
    run = family_run(name)
    assert words.encode() in run.log
    (found,) = _diagnostics(run)
    assert found.test == "tests/test_prop.py::test_two_bugs"


@pytest.mark.parametrize("name", ["decoys-p9-rA", "decoys-p8-rA-short"])
def test_captured_output_of_passing_tests_is_no_failure(name: str) -> None:
    run = family_run(name)
    # an inner pytest run, with and without its header, printed its own failures
    assert run.log.count(b"FAILED test_inner.py::test_inner") == 2
    (found,) = _diagnostics(run)
    assert found.test == "tests/test_quiet.py::test_real_failure"


@pytest.mark.parametrize("name", ["subtests-p9", "subtests-p9-line"])
def test_subtest_failures_are_one_each_under_the_test_id(name: str) -> None:
    run = family_run(name)
    assert b"SUBFAILED(i=1)" in run.log
    found = _diagnostics(run)
    assert [d.test for d in found] == ["tests/test_sub.py::T::test_values"] * 2
    if "line" not in name:
        assert sorted(d.message.rpartition("\n")[2] for d in found) == [
            "subtest (i=1)",
            "subtest (i=2)",
        ]


@pytest.mark.parametrize("name", ["groups-p9", "groups-p8-native"])
def test_nested_exception_groups(name: str) -> None:
    (found,) = _diagnostics(family_run(name))
    assert found.message.startswith("ExceptionGroup: outer (2 sub-exceptions)")


@pytest.mark.parametrize("name", ["syntax-p9", "syntax-p7"])
def test_syntax_error_path_is_spelled_like_the_others(name: str) -> None:
    """`toxbridge parse` without `--map`: pytest printed this file's path in full."""
    run = family_run(name)
    assert f'File "{run.root}/src/calc.py", line 1'.encode() in run.log
    (found,) = parse_bytes(run.log, PathMapper())
    assert (found.path, found.line) == ("src/calc.py", 1)
    assert found.message.startswith("SyntaxError: invalid syntax")


def test_tox_p_quickfix_lines_name_their_env() -> None:
    run = family_run("tox-p-duplicates")
    found = _diagnostics(run)
    assert {d.env for d in found} == {"a", "b"}
    lines = [to_quickfix(d) for d in parse_bytes(run.log)]
    assert len(lines) == len(set(lines)) == 4
    assert f"{LOCAL_ROOT}/src/calc.py" in {d.path for d in found}
    assert any(line.endswith("[a: my tests/test_calc.py::test_div]") for line in lines)
