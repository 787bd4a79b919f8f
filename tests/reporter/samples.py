"""The sample project toxbridge's reporter tests run in real tox envs (written out per session)."""

from __future__ import annotations

FILES: dict[str, str] = {
    "broken/test_fine.py": """\
def test_collected_next_to_broken_modules():
    pass
""",
    "broken/test_import_error.py": """\
import a_module_that_does_not_exist  # noqa: F401


def test_never_collected():
    pass
""",
    "broken/test_syntax_error.py": """\
def test_never_compiled(:
    pass
""",
    "showenv/dump_env.py": """\
import json
import os

with open(os.environ["TOXBRIDGE_TEST_OUT"], "w") as out:
    json.dump(dict(os.environ), out)
""",
    "bulky/test_bulky.py": """\
def test_prints_a_lot():
    print("x" * 4_000_000)


def test_after_it():
    pass
""",
    "nested/inner/test_inner.py": """\
def test_inner():
    pass
""",
    "nested/test_nested.py": """\
import os
import subprocess
import sys


def test_runs_pytest_inside():
    inner = os.path.join(os.path.dirname(__file__), "inner")
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", inner]
    assert subprocess.run(command).returncode == 0
""",
    "showenv/test_showenv.py": '''\
"""Writes what this pytest sees of its environment to $TOXBRIDGE_TEST_OUT (a JSON file)."""

import json
import os
import sys


def test_show_environment(request):
    names = ("PYTHONPATH", "PYTEST_PLUGINS", "PYTEST_ADDOPTS", "TOXBRIDGE_EVENTS", "TOXBRIDGE_ENV")
    seen = {name: os.environ.get(name) for name in names}
    seen["plugins"] = sorted(
        name for name, _ in request.config.pluginmanager.list_name_plugin() if name
    )
    seen["sys_path"] = sys.path
    entries = (seen["PYTHONPATH"] or "").split(os.pathsep)
    listing = {entry: sorted(os.listdir(entry)) for entry in entries if os.path.isdir(entry)}
    seen["listing"] = listing
    with open(os.environ["TOXBRIDGE_TEST_OUT"], "w") as out:
        json.dump(seen, out)
''',
    "tests/test_outcomes.py": '''\
"""Every outcome and phase pytest reports; toxbridge's reporter tests run it in real envs."""

import logging
import sys
import warnings

import pytest


def test_passes():
    print("printed by a passing test")


def test_fails_on_lists():
    assert [1, 2, 3] == [1, 2, 4]


def test_fails_on_text():
    expected = "first line\\nsecond line\\n"
    assert "first line\\nthird line\\n" == expected


def test_fails_without_a_comparison():
    raise ValueError("not an assert")


@pytest.mark.skip(reason="skipped on purpose")
def test_skipped():
    pass


def test_skips_itself():
    pytest.skip("decided at run time")


@pytest.mark.xfail(reason="a known bug")
def test_xfails():
    assert 1 == 2


@pytest.mark.xfail(reason="fixed by luck")
def test_xpasses():
    pass


@pytest.mark.xfail(strict=True, reason="must fail")
def test_xpasses_strictly():
    pass


@pytest.fixture
def broken_setup():
    raise RuntimeError("setup went wrong")


@pytest.fixture
def broken_teardown():
    yield
    raise RuntimeError("teardown went wrong")


def test_errors_in_setup(broken_setup):
    pass


def test_errors_in_teardown(broken_teardown):
    pass


def test_fails_then_errors_in_teardown(broken_teardown):
    assert {"key": 1} == {"key": 2}


@pytest.mark.parametrize("number", [1, 2, 3], ids=["one", "two", "three"])
def test_parametrized(number):
    assert number != 3


def test_warns():
    warnings.warn(UserWarning("a warning from a test"))


def test_captures_everything():
    print("to stdout")
    print("to stderr", file=sys.stderr)
    logging.getLogger("sample").warning("to the log")
    assert False, "with captured output"


class TestOuter:
    class TestInner:
        def test_nested(self):
            assert 3 < 2

    def test_method(self):
        assert "needle" in "haystack"
''',
    "locations/wrapping.py": """\
import functools


def logged(function):
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        return function(*args, **kwargs)

    return wrapper
""",
    "locations/test_locations.py": """\
import unittest

import pytest
from wrapping import logged


@logged
def test_wrapped_from_another_module():
    pass


@pytest.mark.parametrize(
    "number",
    [1, 2],
)
@pytest.mark.filterwarnings(
    "ignore",
)
def test_behind_decorators_on_several_lines(number):
    pass


class TestMethods:
    @logged
    def test_wrapped_method(self):
        pass

    @staticmethod
    def test_static():
        pass


class TestUnittestStyle(unittest.TestCase):
    def test_case(self):
        pass
""",
    "tox.ini": """\
[tox]
env_list = py

[testenv]
skip_install = true
package = skip
system_site_packages = true
pass_env = TOXBRIDGE_TEST_*
commands = python -m pytest -p no:cacheprovider {posargs:-rA tests}

[testenv:other]

[testenv:xdist]
deps =
    pytest-xdist
    pytest-reportlog

[testenv:p7]
system_site_packages = false
base_python = {env:TOXBRIDGE_TEST_PY39}
deps =
    pytest==7.4.*
    pytest-xdist
    pytest-reportlog

[testenv:p8]
system_site_packages = false
base_python = {env:TOXBRIDGE_TEST_PY313}
deps =
    pytest==8.4.*
    pytest-xdist
    pytest-reportlog

[testenv:user]
set_env =
    PYTHONPATH = {toxinidir}/userlib
    PYTEST_PLUGINS = userplugin
    PYTEST_ADDOPTS = -p no:randomly --strict-markers
commands = python -m pytest -p no:cacheprovider -s {posargs:showenv}

[testenv:plain]
commands = python {toxinidir}/showenv/dump_env.py
""",
    "userlib/userplugin.py": '''\
"""The user's own pytest plugin, loaded through their PYTEST_PLUGINS."""


def pytest_report_header(config):
    return "userplugin loaded"
''',
}
