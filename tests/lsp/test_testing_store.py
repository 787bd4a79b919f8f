"""The diagnostic store's rules (pure code, so plain values stand in for diagnostics)."""

from __future__ import annotations

from toxbridge.lsp.testing.store import COLLECT, TEST, DiagnosticStore, Owner

A, B = "file:///w/test_a.py", "file:///w/test_b.py"


def store() -> tuple[DiagnosticStore[str], list[tuple[str, list[str]]]]:
    published: list[tuple[str, list[str]]] = []
    return DiagnosticStore(lambda uri, items: published.append((uri, items))), published


def test_a_test_that_passes_loses_only_its_own_diagnostic_at_once() -> None:
    shown, published = store()
    one, two = Owner("py", TEST, "test_a.py::one"), Owner("py", TEST, "test_a.py::two")
    shown.set(one, [(A, "one failed")])
    shown.set(two, [(A, "two failed")])
    shown.set(one, [])
    assert published[-1] == (A, ["two failed"])


def test_runs_of_different_envs_merge_per_file_and_never_reset_each_other() -> None:
    shown, published = store()
    shown.set(Owner("py311", TEST, "test_a.py::t"), [(A, "in 3.11")])
    shown.set(Owner("py312", TEST, "test_a.py::t"), [(A, "in 3.12")])
    shown.settle("py311", keep=[])  # a complete run of py311 where nothing failed
    assert published[-1] == (A, ["in 3.12"])
    assert shown.owners() == [Owner("py312", TEST, "test_a.py::t")]


def test_settling_an_env_keeps_its_failures_and_other_kinds() -> None:
    shown, published = store()
    stays, goes = Owner("py", TEST, "test_a.py::stays"), Owner("py", TEST, "test_b.py::goes")
    broken = Owner("py", COLLECT, "test_c.py")
    shown.replace({stays: [(A, "still failing")], goes: [(B, "fixed")], broken: [(B, "import")]})
    published.clear()
    shown.settle("py", keep=[stays])
    assert published == [(B, ["import"])]


def test_a_diagnostic_that_moves_file_clears_the_old_file() -> None:
    shown, published = store()
    owner = Owner("py", TEST, "test_a.py::t")
    shown.set(owner, [(A, "at the test")])
    shown.set(owner, [(B, "in the code")])
    assert published[-2:] == [(A, []), (B, ["in the code"])]
    assert shown.count == 1
