"""Capture one minimal real log per failure family, for the parser's regression tests.

Run by hand: `python tests/diagnostics/make_family_logs.py [NAME…]`. Each family is a tiny
project (a file or two) run by real pytest (the venvs of `make_project_corpus.py`) or tox;
the raw output goes to `data/families/<name>.log` and pytest's own truth (`tbtruth.py`) to
`<name>.truth.json`. The projects are written for the families of issue 13; the logs are
what pytest printed, never edited.
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
sys.path.insert(0, str(HERE.parent.parent))

from tests.diagnostics.make_project_corpus import collect_as_shown  # noqa: E402

DATA = HERE / "data" / "families"
BASE = Path("/var/tmp/tbcorpus/families")
VENVS = Path("/var/tmp/tbcorpus/venvs")

CALC = """
def div(a, b):
    return a / b
"""

FIXTURES = {
    "src/calc.py": CALC,
    "tests/conftest.py": """
        import pytest

        from calc import div


        @pytest.fixture
        def broken():
            return div(1, 0)
    """,
    "tests/test_calc.py": """
        import pytest


        @pytest.fixture
        def closes_badly():
            yield 1
            raise RuntimeError("teardown failed")


        def test_missing(no_such_fixture):
            pass


        def test_uses_broken(broken):
            pass


        def test_teardown(closes_badly):
            assert closes_badly == 1


        def test_fails_and_teardown(closes_badly):
            assert closes_badly == 2


        def test_ok():
            pass
    """,
}

SPACES = {
    "src/calc.py": CALC,
    "my tests/test_calc.py": """
        from calc import div


        def test_div():
            assert div(1, 0)


        def test_eq():
            assert div(4, 2) == 3
    """,
}

HYPOTHESIS = {
    "tests/test_prop.py": """
        from hypothesis import given, settings, strategies as st


        @settings(database=None, derandomize=True)
        @given(st.integers())
        def test_two_bugs(n):
            if n > 10:
                raise ValueError(f"too big: {n}")
            if n < -10:
                raise TypeError(f"too small: {n}")
    """,
}

DECOYS = {
    "tests/test_quiet.py": '''
        import logging

        INNER = """
        def test_inner():
            assert 1 == 2
        """


        def test_inner_run(pytester):
            pytester.makepyfile(test_inner=INNER)
            pytester.runpytest().assert_outcomes(failed=1)


        def test_inner_quiet_run(pytester):
            pytester.makepyfile(test_inner=INNER)
            pytester.runpytest("-q", "--tb=line").assert_outcomes(failed=1)


        def test_logs_a_traceback():
            try:
                {}["key"]
            except KeyError:
                logging.getLogger("app").exception("handled")


        def test_tool_lines():
            print("src/app.py:12: error: Incompatible types  [assignment]")
            print("tests/test_quiet.py:3: error: not a failure")


        def test_real_failure():
            assert 1 == 2
    ''',
}

SUBTESTS = {
    "tests/test_sub.py": """
        import unittest


        class T(unittest.TestCase):
            def test_values(self):
                for i in range(3):
                    with self.subTest(i=i):
                        self.assertLess(i, 1)
    """,
}

GROUPS = {
    "tests/test_group.py": """
        def test_nested():
            raise ExceptionGroup(
                "outer", [ValueError("a"), ExceptionGroup("inner", [KeyError("b"), TypeError("c")])]
            )
    """,
}

SYNTAX = {
    "src/calc.py": "def broken(:\n    pass\n",
    "tests/test_calc.py": """
        import calc


        def test_never():
            assert calc
    """,
    "tests/test_other.py": """
        def test_fails():
            assert 1 == 2
    """,
}

TOX_INI = """
[tox]
env_list = a, b
no_package = true

[testenv]
skip_install = true
system_site_packages = true
set_env = PYTHONPATH = {toxinidir}/src{:}%s
pass_env = TB_ROOT, TB_TRUTH_FILE, COLUMNS
commands = {envpython} -m pytest -p tbtruth -p no:cacheprovider {posargs}
""" % (BASE / "plugin")

# name → (files, venv or "tox-p", pytest arguments)
FAMILIES: dict[str, tuple[dict[str, str], str, list[str]]] = {
    "fixtures-p9": (FIXTURES, "p9", ["tests"]),
    "fixtures-p7-short": (FIXTURES, "p7", ["tests", "--tb=short"]),
    "spaces-p9": (SPACES, "p9", ["my tests"]),
    "spaces-p8-line": (SPACES, "p8", ["my tests", "--tb=line"]),
    "hypothesis-p9": (HYPOTHESIS, "p9", ["tests"]),
    "hypothesis-p7": (HYPOTHESIS, "p7", ["tests"]),
    "decoys-p9-rA": (DECOYS, "p9", ["tests", "-p", "pytester", "-rA"]),
    "decoys-p8-rA-short": (DECOYS, "p8", ["tests", "-p", "pytester", "-rA", "--tb=short"]),
    "subtests-p9": (SUBTESTS, "p9", ["tests"]),
    "subtests-p9-line": (SUBTESTS, "p9", ["tests", "--tb=line"]),
    "groups-p9": (GROUPS, "p9", ["tests"]),
    "groups-p8-native": (GROUPS, "p8", ["tests", "--tb=native"]),
    "syntax-p9": (SYNTAX, "p9", ["tests"]),
    "syntax-p7": (SYNTAX, "p7", ["tests"]),
    "tox-p-duplicates": (SPACES, "tox-p", ["my tests", "-q"]),
}


def write(root: Path, files: dict[str, str]) -> None:
    shutil.rmtree(root, ignore_errors=True)
    for relative, text in files.items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    (root / "tox.ini").write_text(TOX_INI, encoding="utf-8")


def run(name: str, files: dict[str, str], runner: str, args: list[str]) -> None:
    root = BASE / name
    write(root, files)
    truth_file = BASE / f"{name}.jsonl"
    truth_file.unlink(missing_ok=True)
    env = {
        **os.environ,
        "TB_ROOT": str(root),
        "TB_TRUTH_FILE": str(truth_file),
        "PYTHONPATH": f"{root / 'src'}{os.pathsep}{BASE / 'plugin'}",
        "COLUMNS": "100",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    for variable in ("PYTEST_ADDOPTS", "PY_COLORS", "FORCE_COLOR", "NO_COLOR"):
        env.pop(variable, None)
    if runner == "tox-p":
        command = ["tox", "p", "-e", "a,b", "--", *args]
    else:
        python = VENVS / runner / "bin" / "python"
        command = [str(python), "-m", "pytest", "-p", "tbtruth", "-p", "no:cacheprovider", *args]
    done = subprocess.run(
        command, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False
    )
    records = []
    if truth_file.exists():
        lines = truth_file.read_text(encoding="utf-8").splitlines()
        records = collect_as_shown([json.loads(line) for line in lines])
    meta = {"root": str(root), "command": command[1:], "exit": done.returncode}
    text = json.dumps({"meta": meta, "truth": records}, indent=1, ensure_ascii=False)
    (DATA / f"{name}.log").write_bytes(done.stdout)
    (DATA / f"{name}.truth.json").write_text(text + "\n", encoding="utf-8")
    print(f"{name}: exit {done.returncode}, {len(records)} truth records")


def main() -> None:
    only = set(sys.argv[1:])
    DATA.mkdir(parents=True, exist_ok=True)
    (BASE / "plugin").mkdir(parents=True, exist_ok=True)
    shutil.copy(HERE / "tbtruth.py", BASE / "plugin" / "tbtruth.py")
    for name, (files, runner, args) in FAMILIES.items():
        if not only or name in only:
            run(name, files, runner, args)


if __name__ == "__main__":
    main()
