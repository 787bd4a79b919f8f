"""Focused tests: path mapping, line splitting, messages, formats, false positives."""

from __future__ import annotations

import json

import pytest

from toxbridge.diagnostics import Diagnostic, DiagnosticParser, PathMapper, Severity, parse_bytes
from toxbridge.diagnostics.ansi import decode_lines, strip_ansi
from toxbridge.diagnostics.formats import to_github, to_json, to_quickfix
from toxbridge.diagnostics.paths import is_project_path


@pytest.mark.parametrize(
    ("mappings", "root", "path", "expected"),
    [
        ((), ".", "tests/test_x.py", "tests/test_x.py"),
        ((), "/home/me/proj", "tests/test_x.py", "/home/me/proj/tests/test_x.py"),
        ((), "/home/me/proj", "./src/../src/m.py", "/home/me/proj/src/m.py"),
        ((("/app", "/home/me/proj"),), ".", "/app/src/m.py", "/home/me/proj/src/m.py"),
        ((("/app", "/home/me/proj"),), ".", "/application/m.py", "/application/m.py"),
        ((("/app/", "/home/me/proj/"),), ".", "/app", "/home/me/proj"),
        (
            (("/app", "/home/me/proj"), ("/app/vendor", "/opt/vendor")),
            ".",
            "/app/vendor/lib.py",
            "/opt/vendor/lib.py",
        ),
        ((("/app", "/home/me/proj"),), "/app", "tests/t.py", "/home/me/proj/tests/t.py"),
        ((("/app", "C:/work"),), ".", "/app/t.py", "C:/work/t.py"),
        ((), ".", "/usr/lib/python3.11/json/decoder.py", "/usr/lib/python3.11/json/decoder.py"),
    ],
)
def test_path_mapping(
    mappings: tuple[tuple[str, str], ...], root: str, path: str, expected: str
) -> None:
    assert PathMapper(mappings, root=root).map(path) == expected


@pytest.mark.parametrize(
    ("path", "project"),
    [
        ("tests/test_x.py", True),
        ("/app/src/m.py", True),
        ("/usr/lib/python3.11/json/decoder.py", False),
        ("../../root/.pyenv/versions/3.11.7/lib/python3.11/ast.py", False),
        ("/app/.tox/py/lib/python3.11/site-packages/pkg/m.py", False),
        (".tox/py/bin/thing.py", False),
        ("<frozen importlib._bootstrap>", False),
        ("<doctest calc.div[0]>", False),
    ],
)
def test_project_paths(path: str, project: bool) -> None:
    assert is_project_path(path) is project


def test_split_utf8_and_escapes_parse_whole() -> None:
    """Fed one byte at a time, a colour code and a UTF-8 character are split everywhere."""
    data = (
        "=== short test summary info ===\n"
        "\x1b[31mFAILED tests/t.py::test_\u00fc\x1b[0m - boom\r\n"
        "=== 1 failed in 0.1s ===\n"
    ).encode()
    parser = DiagnosticParser()
    found = [d for byte in range(len(data)) for d in parser.feed(data[byte : byte + 1])]
    assert [(d.path, d.test, d.message) for d in found + parser.close()] == [
        ("tests/t.py", "tests/t.py::test_\u00fc", "boom")
    ]


def test_decoded_lines_keep_last_redraw() -> None:
    assert decode_lines(b"10%\r50%\r100%\nnext") == ["100%", "next"]


def test_invalid_utf8_does_not_stop_parsing() -> None:
    assert strip_ansi("\x1b[1;31mred\x1b[0m") == "red"
    log = b"=== FAILURES ===\n___ test_a ___\nE   ValueError: \xff\xfe\ntests/t.py:3: ValueError\n"
    (diagnostic,) = parse_bytes(log + b"=== 1 failed in 0.1s ===\n")
    assert diagnostic.message == "ValueError: \ufffd\ufffd"


PASSING = b"""\
=== test session starts ===
rootdir: /app
tests/test_x.py .                                                 [100%]
=== warnings summary ===
tests/test_x.py::test_prints
  /app/tests/test_x.py:9: UserWarning: careful
    warnings.warn("careful")
  /app/.tox/py/lib/python3.11/site-packages/dep.py:1: DeprecationWarning: old

-- Docs: https://docs.pytest.org/en/stable/how-to/capture-warnings.html
=== PASSES ===
___ test_prints ___
--- Captured stdout call ---
src/foo.py:12: something
tests/test_x.py:3: AssertionError
--- Captured log call ---
WARNING  app:test_x.py:7 src/foo.py:12: logged
=== short test summary info ===
PASSED tests/test_x.py::test_prints
=== 1 passed, 1 warning in 0.01s ===
src/foo.py:12: printed after pytest
"""


def test_passing_output_gives_only_the_located_warning() -> None:
    diagnostics = parse_bytes(PASSING, PathMapper([("/app", "/src")]))
    assert diagnostics == [
        Diagnostic(
            path="/src/tests/test_x.py",
            line=9,
            column=None,
            severity=Severity.WARNING,
            message="UserWarning: careful",
            test="tests/test_x.py::test_prints",
            env=None,
        )
    ]


def test_tb_no_falls_back_to_the_summary() -> None:
    log = b"""\
=== test session starts ===
tests/test_x.py F                                                 [100%]
=== short test summary info ===
FAILED tests/test_x.py::test_p[a - b] - ValueError: bad value
=== 1 failed in 0.01s ===
"""
    (diagnostic,) = parse_bytes(log)
    assert (diagnostic.path, diagnostic.line, diagnostic.test) == (
        "tests/test_x.py",
        1,
        "tests/test_x.py::test_p[a - b]",
    )
    assert diagnostic.message == "ValueError: bad value"


def test_short_style_assert_gets_its_type() -> None:
    log = b"""\
=== FAILURES ===
___ TestK.test_m[x.y] ___
tests/test_k.py:8: in test_m
    helper()
src/h.py:2: in helper
    assert 1 == 2
E   assert 1 == 2
=== 1 failed in 0.01s ===
"""
    (diagnostic,) = parse_bytes(log)
    assert (diagnostic.path, diagnostic.line) == ("src/h.py", 2)
    assert diagnostic.test == "tests/test_k.py::TestK::test_m[x.y]"
    assert diagnostic.message == "AssertionError: assert 1 == 2"


def _sample() -> Diagnostic:
    return Diagnostic(
        path="/src/t.py",
        line=3,
        column=None,
        severity=Severity.ERROR,
        message="AssertionError: a, b: 100%\nsecond",
        test="t.py::test_a[1,2]",
        env="py311",
    )


def test_json_format() -> None:
    assert json.loads(to_json(_sample())) == {
        "path": "/src/t.py",
        "line": 3,
        "column": None,
        "severity": "error",
        "message": "AssertionError: a, b: 100%\nsecond",
        "test": "t.py::test_a[1,2]",
        "env": "py311",
    }


def test_quickfix_format_is_one_line() -> None:
    assert to_quickfix(_sample()) == (
        "/src/t.py:3:1: error: AssertionError: a, b: 100% \u23ce second [py311: t.py::test_a[1,2]]"
    )


def test_github_format_escapes() -> None:
    assert to_github(_sample()) == (
        "::error file=/src/t.py,line=3,title=py311%3A t.py%3A%3Atest_a[1%2C2]"
        "::AssertionError: a, b: 100%25%0Asecond"
    )
