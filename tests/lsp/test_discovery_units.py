"""Discovery's tree and errors from records of real runs (tests/diagnostics/data/exact/),
and how test ids become tox runs."""

from __future__ import annotations

from typing import Any

import pytest

from tests.diagnostics.test_exact import records, resolver
from toxbridge.lsp import messages
from toxbridge.lsp.testing.discovery import discover, discovery_json
from toxbridge.lsp.tests import split_ids, tox_args


def uri(path: str) -> str:
    return f"file://{path}"


def nodes(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    found = {}
    for item in items:
        found[item["id"]] = item
        found.update(nodes(item["children"]))
    return found


def test_the_tree_of_a_real_collection() -> None:
    found = discovery_json(discover("py", records("outcomes"), resolver()), uri)
    assert found["env"] == "py"
    tree = nodes(found["items"])
    assert tree["py|tests/"]["kind"] == "folder"
    file = tree["py|tests/test_outcomes.py"]
    assert (file["kind"], file["uri"]) == ("file", "file:///ws/tests/test_outcomes.py")
    cases = tree["py|tests/test_outcomes.py::test_parametrized"]
    assert cases["kind"] == "function"
    assert [c["label"] for c in cases["children"]] == ["[one]", "[two]", "[three]"]
    assert cases["children"][0]["kind"] == "case"
    inner = tree["py|tests/test_outcomes.py::TestOuter::TestInner"]
    assert inner["kind"] == "class"
    nested = tree["py|tests/test_outcomes.py::TestOuter::TestInner::test_nested"]
    assert (nested["kind"], nested["range"]["start"]["line"]) == ("function", 91)
    assert found["errors"] == []


def test_collection_errors_and_what_was_collected_beside_them() -> None:
    found = discover("py", records("broken"), resolver())
    assert found.rootdir == "/project"
    as_json = discovery_json(found, uri)
    assert [e["id"] for e in as_json["errors"]] == [
        "py|broken/test_import_error.py",
        "py|broken/test_syntax_error.py",
    ]
    first = as_json["errors"][0]
    assert first["uri"] == "file:///ws/broken/test_import_error.py"
    assert "No module named 'a_module_that_does_not_exist'" in first["message"]
    assert "py|broken/test_fine.py::test_collected_next_to_broken_modules" in nodes(
        as_json["items"]
    )
    scanned = found.scanned("broken/test_fine.py")
    assert [(t.key, t.line, t.is_class) for t in scanned] == [
        ("broken/test_fine.py::test_collected_next_to_broken_modules", 1, False)
    ]


def test_ids_split_per_env_and_become_one_run_each() -> None:
    ids = ["py|tests/a.py::t", "lint", "py|tests/b.py", "py|tests/a.py::t[1]"]
    assert split_ids(ids) == {
        "py": ["tests/a.py::t", "tests/b.py", "tests/a.py::t[1]"],
        "lint": [""],
    }
    assert split_ids(["tests/a.py::t"], env="py") == {"py": ["tests/a.py::t"]}
    keys = split_ids(ids)["py"]
    assert tox_args("py", keys, "/src") == [
        "-e",
        "py",
        "--",
        "/src/tests/a.py::t",
        "/src/tests/b.py",
    ]
    assert tox_args("py", keys, None) == ["-e", "py", "--", "tests/a.py::t", "tests/b.py"]
    assert tox_args("lint", [""], "/src") == ["-e", "lint"]
    with pytest.raises(ValueError, match="not a test id"):
        split_ids(["|x"])


def test_command_arguments() -> None:
    assert messages.command_run_tests_arguments(({"ids": ["py|a"], "env": "py"},)) == (
        ["py|a"],
        "py",
    )
    assert messages.command_run_file_arguments(({"uri": "file:///a.py"},)) == ("file:///a.py", None)
    for bad in [(), ("py|a",), ({"ids": "py|a"},), ({"ids": [], "env": 1},)]:
        with pytest.raises(ValueError, match=r"toxbridge\.runTests"):
            messages.command_run_tests_arguments(bad)
    with pytest.raises(ValueError, match="'uri' is missing"):
        messages.command_run_file_arguments(({},))
