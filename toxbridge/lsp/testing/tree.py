"""The test tree of an env, built from pytest's collection: env → folder → file → class →
test (→ parametrized case). Pure.

An item's id is `ENV|KEY` (see the README's "Tests in the editor"): KEY is `` for the env,
`dir/sub/` for a folder, and pytest's node id (relative to its rootdir) for a file, a class,
a test and a case; a parametrized function, which pytest has no node for, is `file::name`,
the parent of its `file::name[id]` cases. Paths in nodes are local (already mapped).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import Enum

SEPARATOR = "|"


class NodeKind(str, Enum):
    ENV = "env"
    FOLDER = "folder"
    FILE = "file"
    CLASS = "class"
    FUNCTION = "function"  # a parametrized function: its children are cases
    TEST = "test"
    CASE = "case"


@dataclass(frozen=True, slots=True)
class CollectedItem:
    """What the tree needs of one collected test (reporter.events.Item, path mapped)."""

    nodeid: str
    path: str  # local path of its file
    line: int | None  # 1-based line of its def
    function: str
    classes: tuple[str, ...]
    param: str | None


@dataclass(frozen=True, slots=True)
class CollectionError:
    """A file (or folder) pytest could not collect, with pytest's text."""

    nodeid: str
    path: str | None  # local path when known
    line: int | None
    text: str


@dataclass(slots=True)
class TreeNode:
    id: str
    kind: NodeKind
    label: str
    path: str | None = None  # local file; None for env and folder nodes
    line: int | None = None  # 1-based
    children: dict[str, TreeNode] = field(default_factory=dict)
    error: str | None = None

    def walk(self) -> Iterable[TreeNode]:
        yield self
        for child in self.children.values():
            yield from child.walk()


def make_id(env: str, key: str) -> str:
    return f"{env}{SEPARATOR}{key}"


def split_id(test_id: str) -> tuple[str, str]:
    """(env, key) of an id; ValueError for a string that is not one."""
    env, sep, key = test_id.partition(SEPARATOR)
    if not sep or not env:
        raise ValueError(f"not a test id: {test_id!r} (expected ENV|KEY)")
    return env, key


def env_node(env: str) -> TreeNode:
    return TreeNode(make_id(env, ""), NodeKind.ENV, env)


def build_tree(
    env: str,
    items: Iterable[CollectedItem],
    errors: Iterable[CollectionError] = (),
    local_path: Callable[[str], str] = str,
) -> TreeNode:
    """The env's tree. `local_path(relative)` turns a path relative to pytest's rootdir
    (a folder or file of a node id) into a local one, for nodes whose items do not say."""
    root = env_node(env)
    for item in items:
        file_key, _, _ = item.nodeid.partition("::")
        parent = _file(root, env, file_key, item.path)
        key = file_key
        for name in item.classes:
            key = f"{key}::{name}"
            parent = _child(parent, make_id(env, key), NodeKind.CLASS, name, item.path)
        key = f"{key}::{item.function}"
        if item.param is None:
            leaf = _child(parent, make_id(env, key), NodeKind.TEST, item.function, item.path)
        else:
            function = make_id(env, key)
            parent = _child(parent, function, NodeKind.FUNCTION, item.function, item.path)
            case = make_id(env, item.nodeid)
            leaf = _child(parent, case, NodeKind.CASE, f"[{item.param}]", item.path)
        leaf.line = item.line
        if parent.kind is NodeKind.FUNCTION and parent.line is None:
            parent.line = item.line
    for error in errors:
        file_key = error.nodeid.partition("::")[0] or error.nodeid
        path = error.path or local_path(file_key)
        node = _file(root, env, file_key, path)
        node.error, node.line = error.text, error.line
    return root


def _file(root: TreeNode, env: str, file_key: str, path: str) -> TreeNode:
    parent = root
    parts = file_key.split("/")
    for depth, name in enumerate(parts[:-1], start=1):
        folder = "/".join(parts[:depth]) + "/"
        parent = _child(parent, make_id(env, folder), NodeKind.FOLDER, name, None)
    return _child(parent, make_id(env, file_key), NodeKind.FILE, parts[-1], path)


def _child(
    parent: TreeNode, node_id: str, kind: NodeKind, label: str, path: str | None
) -> TreeNode:
    node = parent.children.get(node_id)
    if node is None:
        node = parent.children[node_id] = TreeNode(node_id, kind, label, path)
    return node


def covers(outer: str, key: str) -> bool:
    """True when running `outer` runs `key` too (an env, folder, file, class or function
    and what lies inside it)."""
    if outer == key or outer == "":
        return True
    if outer.endswith("/"):
        return key.startswith(outer)
    return key.startswith((f"{outer}::", f"{outer}["))


def fewest(keys: Iterable[str]) -> list[str]:
    """The keys that are not inside another of them, in their first order, once each."""
    unique = list(dict.fromkeys(keys))
    return [key for key in unique if not any(o != key and covers(o, key) for o in unique)]


def pytest_args(keys: Iterable[str], rootdir: str) -> list[str]:
    """What to give pytest in the container for these keys: absolute paths (pytest takes
    them from any invocation directory) plus `::…`; an env's empty key gives nothing."""
    args = []
    for key in keys:
        if not key:
            continue
        path, sep, rest = key.partition("::")
        absolute = f"{rootdir.rstrip('/')}/{path.rstrip('/')}"
        args.append(f"{absolute}{sep}{rest}")
    return args
