"""A fast local scan of a test file for code lenses before (or without) discovery. Pure.

pytest's defaults: functions named `test*` at module level, and `test*` methods of classes
named `Test*` without an `__init__`, nested classes included. What only collection knows
(parametrized cases, `python_functions` settings, plugins) comes from discovery.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

TEST_PREFIX = "test"
CLASS_PREFIX = "Test"


@dataclass(frozen=True, slots=True)
class ScannedTest:
    key: str  # `file::Class::name` for a test, `file::Class` for a class (node-id shaped)
    name: str
    line: int  # 1-based line of the `def` or `class`
    is_class: bool


def scan_source(source: str, file_key: str) -> list[ScannedTest]:
    """The tests and test classes in `source`, whose node-id path is `file_key`; a file
    that does not parse has none (pytest will report its collection error)."""
    try:
        module = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    found: list[ScannedTest] = []
    _scan(module.body, file_key, found, in_class=False)
    return found


def _scan(body: list[ast.stmt], prefix: str, found: list[ScannedTest], *, in_class: bool) -> None:
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            if node.name.startswith(TEST_PREFIX):
                found.append(ScannedTest(f"{prefix}::{node.name}", node.name, node.lineno, False))
        elif isinstance(node, ast.ClassDef) and _is_test_class(node):
            key = f"{prefix}::{node.name}"
            found.append(ScannedTest(key, node.name, node.lineno, True))
            _scan(node.body, key, found, in_class=True)


def _is_test_class(node: ast.ClassDef) -> bool:
    if not node.name.startswith(CLASS_PREFIX):
        return False
    return not any(
        isinstance(item, ast.FunctionDef) and item.name == "__init__" for item in node.body
    )
