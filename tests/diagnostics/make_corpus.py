"""Build the parser's test corpus from real pytest and tox runs.

Run by hand (it is not a test): `python tests/diagnostics/make_corpus.py [NAME…]` (all
logs, or only the named ones). It writes a small fixture project under
/tmp/toxbridge-corpus/proj, runs real pytest 7, 8 and 9 (throwaway venvs in /tmp/tbgen) and
tox 4 on it with many option sets (`tox run`, `tox p`, `tox p --parallel-live`), and saves each
raw output as `data/<name>.log` with `data/<name>.truth.json` beside it. The truth comes
from pytest itself, through the tiny `tbtruth` plugin below, never from our parser.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
BASE = Path("/tmp/toxbridge-corpus")
PROJ = BASE / "proj"
PLUGIN_DIR = BASE / "plugin"
VENVS = Path("/tmp/tbgen")
SPECS = {"p7": "pytest<8", "p8": "pytest>=8,<9", "p9": "pytest>=9,<10"}

# The plugin records, for every failed report, where pytest itself says the failure is:
# the deepest traceback frame inside the project (what an editor should point at), the
# crash site pytest reports, and the test's own location (`report.location`, 0-based).
PLUGIN = '''
import json, os, traceback
import pytest

ROOT = os.environ["TB_ROOT"]
OUT = os.environ["TB_TRUTH_FILE"]


def _project(path):
    path = os.path.abspath(str(path))
    inside = path.startswith(ROOT + os.sep)
    return inside and "site-packages" not in path and os.sep + ".tox" + os.sep not in path


def _rel(path):
    return os.path.relpath(os.path.abspath(str(path)), ROOT).replace(os.sep, "/")


def _hidden(frame):
    return bool(frame.f_locals.get("__tracebackhide__") or frame.f_globals.get("__tracebackhide__"))


def _chain(value):
    seen = []
    while value is not None and value not in seen:
        seen.append(value)
        value = value.__cause__ or value.__context__
    return seen


def _site(excinfo):
    """The deepest project frame of the outermost exception in the chain that has one.

    Collection errors wrap the real ImportError or SyntaxError, so look down the chain.
    """
    if excinfo is None:
        return None
    for value in _chain(excinfo.value):
        if isinstance(value, SyntaxError) and value.filename and _project(value.filename):
            return _rel(value.filename), value.lineno
        found = None
        for frame, lineno in traceback.walk_tb(value.__traceback__):
            if _project(frame.f_code.co_filename) and not _hidden(frame):
                found = (_rel(frame.f_code.co_filename), lineno)
        if found:
            return found
    return None


def _record(report, excinfo, kind):
    longrepr = report.longrepr
    site = None
    lines = getattr(longrepr, "reprlocation_lines", None)
    if lines:  # doctest: pytest points at the failing example
        loc = lines[0][0]
        site = (_rel(loc.path), loc.lineno)
    site = site or _site(excinfo)
    crash = getattr(longrepr, "reprcrash", None)
    if site is None and crash is not None and _project(crash.path):
        site = (_rel(crash.path), crash.lineno)
    location = getattr(report, "location", None)
    definition = None
    if location and location[1] is not None:
        definition = (location[0].replace(os.sep, "/"), location[1] + 1)
    if site is None and definition is not None:
        site = definition
    if site is None:
        site = (report.nodeid.split("::")[0], None)
    record = {
        "kind": kind,
        "nodeid": report.nodeid,
        "when": report.when,
        "path": site[0],
        "line": site[1],
        "crash": [_rel(crash.path), crash.lineno] if crash is not None else None,
        "message": crash.message if crash is not None else str(longrepr).splitlines()[0],
        "definition": definition,
        "env": os.environ.get("TOX_ENV_NAME"),
    }
    with open(OUT, "a", encoding="utf-8") as out:
        out.write(json.dumps(record) + "\\n")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        _record(report, call.excinfo, "error" if report.when != "call" else "failed")


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        call = report.__dict__.get("call")
        report.when = "collect"
        _record(report, call.excinfo if call else None, "collect")
'''

CALC = '''
"""Small project module; the doctests below are part of the corpus.

>>> add(1, 2)
4
"""


def add(a, b):
    return a + b


def div(a, b):
    """
    >>> div(1, 0)
    0
    """
    return a / b


def check(value):
    if value < 0:
        raise ValueError(f"bad value: {value}")
    return value


def recurse(n):
    if n == 0:
        raise RuntimeError("bottom reached")
    return recurse(n - 1)
'''

TEST_BASIC = """
import json
import logging
import warnings

import pytest

from calc import check, recurse


def test_pass_prints_location():
    print("src/foo.py:12: something")
    print("tests/test_basic.py:3: AssertionError")
    logging.getLogger("app").error("src/calc.py:20: logged, not failed")


def test_warns():
    warnings.warn("deprecated thing", DeprecationWarning)


def test_assert():
    x = 1
    assert x == 2


def test_assert_multiline():
    assert [1, 2, 3] == [1, 2, 4], "lists differ"


def test_project_raise():
    check(-1)


def test_stdlib_raise():
    json.loads("{not json")


def test_deep():
    recurse(25)


def test_chained():
    try:
        {}["missing"]
    except KeyError as error:
        raise ValueError("while looking up") from error


def test_fail():
    pytest.fail("explicit failure\\nsecond line")


def test_raises_mismatch():
    with pytest.raises(ValueError, match="nope"):
        raise ValueError("other text")


def test_does_not_raise():
    with pytest.raises(KeyError):
        pass


@pytest.mark.xfail(strict=True, reason="should fail")
def test_xpass_strict():
    pass


@pytest.mark.xfail(reason="known")
def test_xfail():
    assert False


def test_group():
    raise ExceptionGroup("several", [ValueError("one"), TypeError("two")])


def test_logs_then_fails():
    logging.getLogger("app").warning("tests/test_basic.py:1: a warning line")
    print("captured stdout line")
    assert 0, "after logging"
"""

TEST_PARAMS = """
import pytest


@pytest.mark.parametrize(
    "value",
    ["a b", "x[1]", "a::b", "\\u00fcn\\u00ef", "ok"],
    ids=["a b", "x[1]", "a::b", "\\u00fcn\\u00ef", "ok"],
)
def test_param(value):
    assert value == "ok"


class TestThing:
    def test_method(self):
        assert "abc".upper() == "abc"

    @pytest.mark.parametrize("n", [1.5, 2])
    def test_method_param(self, n):
        assert n == 2

    class TestInner:
        def test_inner(self):
            raise KeyError("inner")
"""

TEST_FIXTURES = """
import pytest


@pytest.fixture
def broken_setup():
    raise RuntimeError("setup exploded")


@pytest.fixture
def broken_teardown():
    yield 1
    raise RuntimeError("teardown exploded")


def test_setup_error(broken_setup):
    pass


def test_teardown_error(broken_teardown):
    assert broken_teardown == 1


def test_fail_and_teardown_error(broken_teardown):
    assert broken_teardown == 2
"""

TEST_UNIT = """
import unittest


class CalcTest(unittest.TestCase):
    def test_equal(self):
        self.assertEqual(1 + 1, 3)

    def test_error(self):
        raise OSError("disk gone")

    def test_ok(self):
        self.assertTrue(True)
"""

TEST_HYP = """
from hypothesis import given, settings, strategies as st


@settings(derandomize=True, database=None, max_examples=50)
@given(st.integers(min_value=0, max_value=100))
def test_small(x):
    assert x < 10
"""

TEST_IMPORT = """
import nonexistent_module_for_corpus


def test_never():
    pass
"""

TEST_SYNTAX = """
def test_broken(:
    pass
"""

BROKEN_CONFTEST = """
raise ValueError("conftest is broken")
"""

TOX_INI = """
[tox]
env_list = alpha, beta
no_package = true

[testenv]
skip_install = true
system_site_packages = true
pass_env = TB_ROOT, TB_TRUTH_FILE, PYTHONPATH
commands = python -m pytest -p tbtruth {posargs}

[testenv:beta]
commands = python -m pytest -p tbtruth --tb=short -q {posargs}
"""

PYTEST_INI = """
[pytest]
pythonpath = src
"""

FILES = {
    "src/calc.py": CALC,
    "tests/test_basic.py": TEST_BASIC,
    "tests/test_params.py": TEST_PARAMS,
    "tests/test_fixtures.py": TEST_FIXTURES,
    "tests/test_unit.py": TEST_UNIT,
    "tests/test_hyp.py": TEST_HYP,
    "tests/collect/test_import.py": TEST_IMPORT,
    "tests/collect/test_syntax.py": TEST_SYNTAX,
    "tests/broken/conftest.py": BROKEN_CONFTEST,
    "tests/broken/test_unreached.py": "def test_unreached():\n    pass\n",
    "pytest.ini": PYTEST_INI,
    "tox.ini": TOX_INI,
}

COMMON = ["-p", "no:cacheprovider", "--continue-on-collection-errors"]
DEFAULT_TARGETS = ["tests", "src", "--doctest-modules", "--ignore=tests/broken"]

# (log name, venv or a tox mode from TOX_COMMANDS, pytest arguments)
RUNS: list[tuple[str, str, list[str]]] = [
    ("p9-auto", "p9", []),
    ("p9-long-v", "p9", ["--tb=long", "-v"]),
    ("p9-short-q", "p9", ["--tb=short", "-q"]),
    ("p9-line", "p9", ["--tb=line"]),
    ("p9-native-rA", "p9", ["--tb=native", "-rA"]),
    ("p9-no", "p9", ["--tb=no"]),
    ("p9-color", "p9", ["--color=yes", "-rA"]),
    ("p9-xdist", "p9", ["-n", "2"]),
    ("p8-auto-v", "p8", ["-v"]),
    ("p8-short-color", "p8", ["--tb=short", "--color=yes"]),
    ("p8-native-q", "p8", ["--tb=native", "-q"]),
    ("p8-xdist-v", "p8", ["-n", "2", "-v"]),
    ("p7-auto", "p7", []),
    ("p7-long-rA", "p7", ["--tb=long", "-rA"]),
    ("p7-short-v", "p7", ["--tb=short", "-v"]),
    ("p7-line-q", "p7", ["--tb=line", "-q"]),
    ("p7-native-color", "p7", ["--tb=native", "--color=yes"]),
    ("tox-two-envs", "tox", []),
    # `tox p` buffers each env's output and prints it when the env ends
    ("tox-parallel", "tox-p", []),
    # with --parallel-live the two envs' outputs interleave as they are written
    ("tox-parallel-live", "tox-p-live", ["-q", "--tb=short"]),
    # A broken conftest below the root aborts collection of the whole session on pytest 7.
    ("p7-broken-conftest", "p7", ["tests"]),
    ("p9-broken-conftest", "p9", ["tests", "-q", "--tb=short"]),
]


TOX_COMMANDS = {
    "tox": ["tox", "run"],
    "tox-p": ["tox", "p"],
    "tox-p-live": ["tox", "p", "--parallel-live"],
}


def ensure_venv(name: str) -> Path:
    venv = VENVS / name
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        packages = [SPECS[name], "hypothesis", "pytest-xdist"]
        subprocess.run([str(python), "-m", "pip", "install", "-q", *packages], check=True)
    return python


def write_project() -> None:
    shutil.rmtree(BASE, ignore_errors=True)
    for relative, text in FILES.items():
        target = PROJ / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    PLUGIN_DIR.mkdir(parents=True)
    (PLUGIN_DIR / "tbtruth.py").write_text(PLUGIN, encoding="utf-8")


def run_one(name: str, runner: str, args: list[str]) -> None:
    if "tests" not in args:
        args = [*DEFAULT_TARGETS, *args]
    truth_file = BASE / f"{name}.jsonl"
    env = {
        **os.environ,
        "TB_ROOT": str(PROJ),
        "TB_TRUTH_FILE": str(truth_file),
        "PYTHONPATH": str(PLUGIN_DIR),
        "COLUMNS": "100",
        "PYTHONHASHSEED": "0",
    }
    env.pop("PYTEST_ADDOPTS", None)
    if runner in TOX_COMMANDS:
        command = [*TOX_COMMANDS[runner], "-e", "alpha,beta", "--", *COMMON, *args]
    else:
        command = [str(ensure_venv(runner)), "-m", "pytest", "-p", "tbtruth", *COMMON, *args]
    done = subprocess.run(
        command, cwd=PROJ, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False
    )
    (DATA / f"{name}.log").write_bytes(done.stdout)
    records = []
    if truth_file.exists():
        lines = truth_file.read_text(encoding="utf-8").splitlines()
        records = sorted((json.loads(line) for line in lines), key=lambda r: json.dumps(r))
        if "-n" in args:
            records = _dedupe_collect(records)
    meta = {"root": str(PROJ), "command": command[1:], "exit": done.returncode}
    text = json.dumps({"meta": meta, "truth": records}, indent=1, ensure_ascii=False)
    (DATA / f"{name}.truth.json").write_text(text + "\n", encoding="utf-8")
    print(f"{name}: exit {done.returncode}, {len(records)} truth records")


def _dedupe_collect(records: list[dict[str, object]]) -> list[dict[str, object]]:
    """Every xdist worker reports a collection error; the controller shows it once."""
    seen: set[str] = set()
    kept = []
    for record in records:
        key = json.dumps(record)
        if record["kind"] == "collect" and key in seen:
            continue
        seen.add(key)
        kept.append(record)
    return kept


def broken_root_conftest() -> None:
    """A conftest that breaks at start-up: pytest reports it before any test report."""
    (PROJ / "conftest.py").write_text("import nonexistent_plugin_module\n", encoding="utf-8")
    run_one("p9-root-conftest", "p9", [])
    (PROJ / "conftest.py").unlink()


def main() -> None:
    """Regenerate every log, or only the ones named on the command line."""
    only = set(sys.argv[1:])
    DATA.mkdir(exist_ok=True)
    write_project()
    for name, runner, args in RUNS:
        if not only or name in only:
            run_one(name, runner, args)
    if not only or "p9-root-conftest" in only:
        broken_root_conftest()


if __name__ == "__main__":
    main()
