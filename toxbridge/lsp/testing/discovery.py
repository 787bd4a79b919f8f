"""One env's discovery: the records of a collect-only run → its test tree and collection
errors, at local paths; and both as `tox/discover` JSON. Pure.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable
from dataclasses import dataclass, field

from toxbridge.diagnostics.exact import PathResolver
from toxbridge.lsp.testing.report import Json, Uri, lsp_range
from toxbridge.lsp.testing.scan import ScannedTest
from toxbridge.lsp.testing.tree import (
    CollectedItem,
    CollectionError,
    NodeKind,
    TreeNode,
    build_tree,
    make_id,
)
from toxbridge.reporter import events

# tox/discover's kinds: a test is a "function" (a parametrized one has "case" children)
_KINDS = {NodeKind.TEST: "function", NodeKind.FUNCTION: "function"}
_FAILING = frozenset({"failed", "error"})


@dataclass(slots=True)
class Discovery:
    env: str
    rootdir: str | None  # pytest's rootdir in the container, for node ids as paths
    tree: TreeNode
    errors: list[CollectionError] = field(default_factory=list)

    def file_node(self, file_key: str) -> TreeNode | None:
        node_id = make_id(self.env, file_key)
        return next((n for n in self.tree.walk() if n.id == node_id), None)

    def scanned(self, file_key: str) -> list[ScannedTest]:
        """The file's classes and tests as the lenses want them (cases are left out:
        their function's lens runs them all)."""
        node = self.file_node(file_key)
        if node is None:
            return []
        prefix = f"{self.env}|"
        return [
            ScannedTest(n.id[len(prefix) :], n.label, n.line, n.kind is NodeKind.CLASS)
            for n in node.walk()
            if n.kind in (NodeKind.CLASS, NodeKind.TEST, NodeKind.FUNCTION) and n.line
        ]


def discover(env: str, records: Iterable[events.Record], resolver: PathResolver) -> Discovery:
    rootdirs: dict[str, str] = {}
    items: list[CollectedItem] = []
    errors: list[CollectionError] = []
    paths: dict[tuple[str, str | None], str] = {}  # a file's tests share its local path
    for record in records:
        if isinstance(record, events.Session):
            rootdirs[record.sid] = record.rootdir
        elif isinstance(record, events.Collection):
            root = rootdirs.get(record.sid)
            for item in record.items:
                path = paths.get((item.path, root))
                if path is None:
                    path = paths[item.path, root] = resolver.local(item.path, root)
                param = item.param
                items.append(
                    CollectedItem(item.nodeid, path, item.line, item.function, item.classes, param)
                )
        elif isinstance(record, events.Collect) and record.outcome in _FAILING:
            errors.append(_error(record, rootdirs.get(record.sid), resolver))
    rootdir = next(iter(rootdirs.values()), None)

    def local(relative: str) -> str:
        return resolver.local(posixpath.join(rootdir or "", relative), rootdir)

    unique = list({item.nodeid: item for item in items}.values())  # xdist workers repeat them
    return Discovery(env, rootdir, build_tree(env, unique, errors, local), errors)


def _error(record: events.Collect, rootdir: str | None, resolver: PathResolver) -> CollectionError:
    path, line = None, None
    frames = [(resolver.local(p, rootdir), n) for p, n in record.traceback]
    inside = [frame for frame in frames if resolver.in_project(frame[0])]
    if inside:
        path, line = inside[-1]
    elif record.crash is not None:
        path, line = resolver.local(record.crash.path, rootdir), record.crash.line
    text = record.longreprtext or record.message or record.outcome
    return CollectionError(record.nodeid, path, line, text)


def tree_json(node: TreeNode, uri: Uri) -> Json:
    entry: Json = {
        "id": node.id,
        "label": node.label,
        "kind": _KINDS.get(node.kind, node.kind.value),
    }
    if node.path is not None:
        entry["uri"] = uri(node.path)
        entry["range"] = lsp_range(node.line or 1)
    entry["children"] = [tree_json(child, uri) for child in node.children.values()]
    return entry


def errors_json(discovery: Discovery, uri: Uri) -> list[Json]:
    found = []
    for error in discovery.errors:
        # a failure of the env itself (no node id) is the env's: its id is the env's name
        test_id = make_id(discovery.env, error.nodeid) if error.nodeid else discovery.env
        entry: Json = {"id": test_id, "message": error.text}
        if error.path is not None:
            entry.update(uri=uri(error.path), range=lsp_range(error.line or 1))
        found.append(entry)
    return found


def discovery_json(discovery: Discovery, uri: Uri) -> Json:
    items = [tree_json(child, uri) for child in discovery.tree.children.values()]
    return {"env": discovery.env, "items": items, "errors": errors_json(discovery, uri)}
