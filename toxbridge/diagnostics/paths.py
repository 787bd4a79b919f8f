"""Path handling that never touches the disk: a CI log is parsed on another machine."""

from __future__ import annotations

import posixpath
from collections.abc import Sequence

# Markers of code that is not the project's: installed packages, the standard library,
# tox's virtual environments and frames Python prints without a real file.
_FOREIGN = ("site-packages", "dist-packages", "/lib/python", "/lib/pypy", "/.tox/", "\\lib\\")


def is_project_path(path: str) -> bool:
    if not path or path.startswith("<") or path.startswith(".tox/"):
        return False
    return not any(marker in path for marker in _FOREIGN)


def _is_absolute(path: str) -> bool:
    # Windows drive paths count too: a log may come from a Windows CI runner.
    return path.startswith(("/", "\\")) or (len(path) > 2 and path[1] == ":" and path[2] in "/\\")


def _under(path: str, prefix: str) -> bool:
    prefix = prefix.rstrip("/") or "/"
    return path == prefix or path.startswith(prefix if prefix.endswith("/") else prefix + "/")


class PathMapper:
    """Turn a path as printed by pytest into the path the user's editor should open.

    Relative paths are joined onto `root` (tox runs pytest from its root); then the
    longest matching (container prefix, local prefix) pair in `mappings` replaces the
    prefix of an absolute path. A root given as a container path is mapped the same way.
    """

    __slots__ = ("_mappings", "root")

    def __init__(self, mappings: Sequence[tuple[str, str]] = (), root: str = ".") -> None:
        self._mappings = sorted(
            ((remote.rstrip("/") or "/", local.rstrip("/") or "/") for remote, local in mappings),
            key=lambda pair: len(pair[0]),
            reverse=True,
        )
        self.root = root

    def map(self, path: str, rootdir: str | None = None) -> str:
        """The local path; an absolute `path` under pytest's `rootdir` that no mapping
        covers is taken as relative to it (pytest prints a few paths in full)."""
        if not _is_absolute(path):
            path = posixpath.normpath(posixpath.join(self.root, path))
        else:
            for remote, local in self._mappings:
                if _under(path, remote):
                    rest = path[len(remote) :].lstrip("/")
                    return posixpath.join(local, rest) if rest else local
            if rootdir and _under(path, rootdir) and _is_absolute(rootdir):
                relative = path[len(rootdir.rstrip("/")) :].lstrip("/")
                return self.map(relative) if relative else self.map(".")
            return path
        for remote, local in self._mappings:
            if _under(path, remote):
                rest = path[len(remote) :].lstrip("/")
                return posixpath.join(local, rest) if rest else local
        return path

    @property
    def local_roots(self) -> list[str]:
        """The local side of every mapping."""
        return [local for _, local in self._mappings]

    def container_root(self, path: str) -> str | None:
        """The container prefix `path` lies under: the tox root when pytest hides its rootdir."""
        for remote, _ in self._mappings:
            if _under(path, remote):
                return remote
        return self.root if _is_absolute(self.root) and _under(path, self.root) else None


def relative_to(path: str, root: str | None) -> str:
    """`path` relative to pytest's rootdir when it lies inside it (for node ids)."""
    if root and _is_absolute(path) and _under(path, root):
        return path[len(root.rstrip("/")) :].lstrip("/")
    return path
