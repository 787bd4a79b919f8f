"""What the editor shows, kept per owner: each diagnostic belongs to one test of one env
(or to a file's collection, or to an env's setup), and a file's list is the union of its
owners' diagnostics. Pure: it hands `(uri, items)` to a publish callback.

This is what makes partial and overlapping runs right:
- a test that reports again replaces only its own diagnostics (a pass: none), at once;
- a run that ran some tests (`-k`, `-x`, node ids) touches only those tests;
- two runs at once (different envs, or the same env) never reset each other's state;
- a run known only through the text parser (an env without the reporter) can say, once it
  completed, "these were all of env E's failures": `settle(env, keep)` drops the env's
  other owners.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

Item = TypeVar("Item")


@dataclass(frozen=True, slots=True, order=True)
class Owner:
    """Who a diagnostic belongs to: `kind` is "test", "collect" or "setup"; `key` the test's
    or file's node id ("" for an env's setup)."""

    env: str
    kind: str
    key: str


TEST, COLLECT, SETUP = "test", "collect", "setup"


class DiagnosticStore(Generic[Item]):
    """Owners' diagnostics, grouped by file uri for publishing."""

    def __init__(self, publish: Callable[[str, list[Item]], None]) -> None:
        self._publish = publish
        self._by_owner: dict[Owner, list[tuple[str, Item]]] = {}
        self._by_uri: dict[str, set[Owner]] = defaultdict(set)

    def set(self, owner: Owner, items: Sequence[tuple[str, Item]]) -> None:
        """`owner`'s diagnostics are now `items` ((uri, item) pairs; empty: none)."""
        self.replace({owner: items})

    def replace(self, changes: dict[Owner, Sequence[tuple[str, Item]]]) -> None:
        """Several owners at once; every touched file is published once."""
        touched: set[str] = set()
        for owner, items in changes.items():
            for uri, _ in self._by_owner.pop(owner, []):
                self._by_uri[uri].discard(owner)
                touched.add(uri)
            if items:
                self._by_owner[owner] = list(items)
                for uri, _ in items:
                    self._by_uri[uri].add(owner)
                    touched.add(uri)
        for uri in sorted(touched):
            self._publish(uri, self.items(uri))
            if not self._by_uri[uri]:
                del self._by_uri[uri]

    def settle(self, env: str, keep: Iterable[Owner], kinds: tuple[str, ...] = (TEST,)) -> None:
        """After a complete run of `env` whose failures were exactly `keep`: its other
        owners of `kinds` have passed and lose their diagnostics."""
        kept = set(keep)
        stale = [o for o in self._by_owner if o.env == env and o.kind in kinds and o not in kept]
        self.replace({owner: () for owner in stale})

    def of(self, owner: Owner) -> list[Item]:
        return [item for _, item in self._by_owner.get(owner, ())]

    def owners(self, env: str | None = None) -> list[Owner]:
        return sorted(o for o in self._by_owner if env is None or o.env == env)

    def items(self, uri: str) -> list[Item]:
        """The file's diagnostics, in a stable order (by owner, then as given)."""
        return [
            item
            for owner in sorted(self._by_uri.get(uri, ()))
            for item_uri, item in self._by_owner[owner]
            if item_uri == uri
        ]

    @property
    def count(self) -> int:
        return sum(len(items) for items in self._by_owner.values())
