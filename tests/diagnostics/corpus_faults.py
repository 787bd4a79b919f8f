"""Fault files the corpus generator adds to each project's own test directory.

Written once, generically, before any log was parsed: each one calls into the project
(`{module}`, `{call}` raises inside the project's code, `{value}` returns one of its values)
so that the tracebacks run through the project's own source. Keys are the family names in
`corpus_projects.ALL_FAULTS`; each value maps a file name to its text, and a name starting
with `+` is appended to that file (a conftest) instead of replacing it.
"""

from __future__ import annotations

FIXTURES = """
import pytest

import {module}


@pytest.fixture
def tb_resource():
    value = {value}
    yield value
    raise RuntimeError("teardown could not release the resource")


@pytest.fixture
def tb_broken():
    return {call}


def test_tb_needs_broken(tb_broken):
    assert tb_broken


def test_tb_teardown_fails(tb_resource):
    assert tb_resource is not None


def test_tb_fails_then_teardown(tb_resource):
    assert tb_resource is None


def test_tb_missing_fixture(tb_no_such_fixture):
    assert tb_no_such_fixture
"""

CONFTEST = """

import pytest as _tb_pytest


@_tb_pytest.fixture
def tb_conf_broken():
    import {module}

    return {call}


@_tb_pytest.fixture
def tb_conf_teardown():
    yield 1
    raise ConnectionError("conftest fixture could not close")
"""

CONFTEST_USERS = """
def test_tb_uses_conftest_fixture(tb_conf_broken):
    assert tb_conf_broken


def test_tb_conftest_teardown(tb_conf_teardown):
    assert tb_conf_teardown == 1
"""

COLLECT_SYNTAX = """
def test_tb_unparsable(:
    pass
"""

COLLECT_IMPORT = """
from {module} import tb_name_that_does_not_exist


def test_tb_never_runs():
    assert tb_name_that_does_not_exist
"""

HYPOTHESIS = """
from hypothesis import given, settings
from hypothesis import strategies as st

import {module}


@settings(database=None, derandomize=True, max_examples=300)
@given(st.integers())
def test_tb_two_distinct_bugs(n):
    if n > 100:
        raise ValueError(f"too big: {{n}}")
    if n < -100:
        raise TypeError(f"too small: {{n}}")


@settings(database=None, derandomize=True, max_examples=50)
@given(st.integers(min_value=0, max_value=10))
def test_tb_project_raises(n):
    assert {value} is not None
    if n > 3:
        {call}
"""

SUBTEST = """
import unittest

import {module}


class TbSubTests(unittest.TestCase):
    def test_tb_values(self):
        for i in range(4):
            with self.subTest(i=i):
                self.assertLess(i, 2)

    def test_tb_project(self):
        with self.subTest("project call"):
            {call}
"""

GROUP = """
import {module}


def _tb_boom():
    {call}


def test_tb_nested_group():
    errors = []
    try:
        _tb_boom()
    except Exception as error:
        errors.append(error)
    raise ExceptionGroup(
        "outer",
        [ValueError("first"), ExceptionGroup("inner", [KeyError("second"), *errors])],
    )
"""

DECOYS = '''
import logging
import sys

import {module}

INNER = """
def test_inner_ok():
    assert 1


def test_inner_fails():
    assert 1 == 2, "inner failure"


def test_inner_error(missing_inner_fixture):
    pass
"""


def test_tb_inner_pytest_run(pytester):
    pytester.makepyfile(test_inner=INNER)
    result = pytester.runpytest("-rA")
    result.assert_outcomes(passed=1, failed=1, errors=1)


def test_tb_inner_pytest_subprocess(pytester):
    pytester.makepyfile(test_inner=INNER)
    result = pytester.runpytest_subprocess("-q", "--tb=short")
    result.assert_outcomes(passed=1, failed=1, errors=1)


def test_tb_logged_traceback():
    try:
        {call}
    except Exception:
        logging.getLogger("corpus").exception("handled, the test goes on")
    assert {value} is not None


def test_tb_tool_output():
    print(f"{{__file__}}:3: error: Incompatible return value type (a checker's line)")
    print("src/app/models.py:41: error: Name 'x' is not defined  [name-defined]")
    print("FAILED tests/test_elsewhere.py::test_other - AssertionError: not ours")
    print("E       assert 1 == 2")
    print(f'  File "{{__file__}}", line 5, in test_tb_tool_output', file=sys.stderr)
    print("ERROR tests/test_elsewhere.py - ImportError: not ours either", file=sys.stderr)
'''

FAULTS: dict[str, dict[str, str]] = {
    "fixtures": {"test_tb_fixtures.py": FIXTURES},
    "conftest": {"+conftest.py": CONFTEST, "test_tb_conftest_users.py": CONFTEST_USERS},
    "collect": {"test_tb_syntax.py": COLLECT_SYNTAX, "test_tb_import.py": COLLECT_IMPORT},
    "hypothesis": {"test_tb_hypothesis.py": HYPOTHESIS},
    "subtest": {"test_tb_subtests.py": SUBTEST},
    "group": {"test_tb_groups.py": GROUP},
    "decoys": {"test_tb_decoys.py": DECOYS},
}
