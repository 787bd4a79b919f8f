"""The editor's test tree and the local scan, checked against real pytest collections.

A sample with folders, classes (nested too), parametrized tests and a module that fails to
import runs through real tox and pytest with the reporter; the tree is built from the
records pytest itself sent, and the scan of the same files is compared with what pytest
collected.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.reporter.conftest import ToxRun, create_envs, run_tox
from toxbridge.lsp.testing.lenses import RUN_FILE, RUN_TESTS, LastResult, Lens, file_lenses
from toxbridge.lsp.testing.scan import scan_source
from toxbridge.lsp.testing.tree import (
    CollectedItem,
    CollectionError,
    NodeKind,
    TreeNode,
    build_tree,
    covers,
    fewest,
    pytest_args,
    split_id,
)
from toxbridge.reporter import events

FILES = {
    "tox.ini": """\
[tox]
env_list = py
[testenv]
skip_install = true
package = skip
system_site_packages = true
commands = python -m pytest -p no:cacheprovider -q {posargs:tests}
""",
    "tests/__init__.py": "",
    "tests/test_top.py": """\
import pytest


def test_plain():
    pass


@pytest.mark.parametrize("n", [1, 2])
def test_cases(n):
    assert n


class TestOuter:
    def test_method(self):
        pass

    class TestInner:
        @pytest.mark.skip
        def test_deep(self):
            pass


class Helper:
    def test_not_collected(self):
        pass


def helper_test():
    pass
""",
    "tests/unit/__init__.py": "",
    "tests/unit/test_sub.py": "async def test_async_is_collected_too():\n    pass\n",
    "tests/unit/test_broken.py": "import a_module_that_is_not_there\n",
}


@pytest.fixture(scope="module")
def collected(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ToxRun]:
    """The sample, and the records of a real `--collect-only` run of it."""
    root = tmp_path_factory.mktemp("tree")
    for name, text in FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    create_envs(root, "py")
    run = asyncio.run(run_tox(root, "-e", "py", "--", "--collect-only", "-q", "tests"))
    return root, run


def tree_of(run: ToxRun) -> TreeNode:
    (session,) = run.of(events.Session)
    (collection,) = run.of(events.Collection)
    items = [
        CollectedItem(i.nodeid, i.path, i.line, i.function, i.classes, i.param)
        for i in collection.items
    ]
    errors = [
        CollectionError(
            c.nodeid,
            c.crash.path if c.crash else None,
            c.crash.line if c.crash else None,
            c.longreprtext,
        )
        for c in run.of(events.Collect)
        if c.outcome == "error"
    ]
    return build_tree("py", items, errors, lambda key: f"{session.rootdir}/{key}")


def test_every_collected_test_is_a_leaf_under_env_folders_file_and_classes(
    collected: tuple[Path, ToxRun],
) -> None:
    _, run = collected
    tree = tree_of(run)
    (collection,) = run.of(events.Collection)
    leaves = {n.id for n in tree.walk() if n.kind in (NodeKind.TEST, NodeKind.CASE)}
    assert leaves == {f"py|{item.nodeid}" for item in collection.items}
    kinds = {n.id: n.kind for n in tree.walk()}
    assert kinds["py|"] is NodeKind.ENV
    assert kinds["py|tests/"] is NodeKind.FOLDER
    assert kinds["py|tests/unit/"] is NodeKind.FOLDER
    assert kinds["py|tests/test_top.py"] is NodeKind.FILE
    assert kinds["py|tests/test_top.py::TestOuter::TestInner"] is NodeKind.CLASS
    assert kinds["py|tests/test_top.py::test_cases"] is NodeKind.FUNCTION
    assert kinds["py|tests/test_top.py::test_cases[1]"] is NodeKind.CASE
    assert kinds["py|tests/test_top.py::test_plain"] is NodeKind.TEST


def test_nodes_carry_the_def_lines_pytest_reports(collected: tuple[Path, ToxRun]) -> None:
    root, run = collected
    nodes = {n.id: n for n in tree_of(run).walk()}
    source = (root / "tests/test_top.py").read_text().splitlines()
    for key in ("test_plain", "TestOuter::test_method", "TestOuter::TestInner::test_deep"):
        node = nodes[f"py|tests/test_top.py::{key}"]
        assert node.line is not None
        assert source[node.line - 1].strip().startswith(f"def {key.rpartition(':')[2]}(")
        assert node.path == str(root / "tests/test_top.py")


def test_a_module_that_fails_to_import_is_an_errored_file(collected: tuple[Path, ToxRun]) -> None:
    _, run = collected
    broken = {n.id: n for n in tree_of(run).walk()}["py|tests/unit/test_broken.py"]
    assert broken.kind is NodeKind.FILE
    assert broken.error is not None
    assert "a_module_that_is_not_there" in broken.error
    assert broken.line == 1


def test_the_local_scan_finds_what_pytest_collects(collected: tuple[Path, ToxRun]) -> None:
    root, run = collected
    (collection,) = run.of(events.Collection)
    # pytest's node ids, parametrize ids dropped: the scan cannot know cases
    collected_keys = {item.nodeid.partition("[")[0] for item in collection.items}
    scanned = set()
    for name in ("tests/test_top.py", "tests/unit/test_sub.py"):
        found = scan_source((root / name).read_text(), name)
        scanned |= {test.key for test in found if not test.is_class}
    assert scanned == collected_keys


def test_a_file_that_does_not_parse_scans_as_empty() -> None:
    assert scan_source("def test_x(:\n", "tests/test_x.py") == []


def test_ids_split_into_env_and_key() -> None:
    assert split_id("py|tests/a.py::T::t[1]") == ("py", "tests/a.py::T::t[1]")
    assert split_id("py|") == ("py", "")
    with pytest.raises(ValueError, match="not a test id"):
        split_id("tests/a.py::t")


def test_selections_shrink_to_the_outermost_and_become_absolute_container_args() -> None:
    keys = ["tests/a.py::t[1]", "tests/a.py::t", "tests/unit/", "tests/unit/b.py::T", "c.py"]
    assert fewest(keys) == ["tests/a.py::t", "tests/unit/", "c.py"]
    assert covers("", "anything")
    assert not covers("tests/a.py::t", "tests/a.py::tx")
    assert pytest_args(fewest(keys), "/src/") == [
        "/src/tests/a.py::t",
        "/src/tests/unit",
        "/src/c.py",
    ]
    assert pytest_args([""], "/src") == []


def test_lenses_sit_on_each_test_and_class_and_show_the_last_result(
    collected: tuple[Path, ToxRun],
) -> None:
    root, _ = collected
    source = (root / "tests/test_top.py").read_text()
    tests = scan_source(source, "tests/test_top.py")
    results = {"tests/test_top.py::test_plain": LastResult("failed", 0.125)}
    lenses = file_lenses("file:///w/tests/test_top.py", "py", tests, results)
    lines = source.splitlines()
    assert lenses[0] == Lens(
        0, "▶ Run tests in file", RUN_FILE, ({"uri": "file:///w/tests/test_top.py", "env": "py"},)
    )
    for lens in lenses[1:]:
        assert lines[lens.line].lstrip().startswith(("def test", "class Test"))
        assert lens.command == RUN_TESTS
    plain = [
        lens
        for lens in lenses
        if lens.arguments[0].get("ids") == ["py|tests/test_top.py::test_plain"]
    ]
    assert [lens.title for lens in plain] == ["▶ Run test", "✗ failed 0.12 s"]
    assert [lens.title for lens in lenses].count("▶ Run tests") == 2  # two classes
