"""Chunking must not change the result, and failures must come out before the end."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.diagnostics.corpus import load, parse
from toxbridge.diagnostics import Diagnostic, DiagnosticParser, PathMapper

# Colour codes, non-ASCII ids, several tox envs, `--tb=line` items held for the summary.
SAMPLES = {name: load(name) for name in ("p9-color", "tox-two-envs", "p7-line-q", "p8-xdist-v")}
WHOLE = {name: parse(log, root) for name, (log, root, _) in SAMPLES.items()}


def _feed_split(log: bytes, root: str, cuts: list[int]) -> list[Diagnostic]:
    parser = DiagnosticParser(PathMapper([(root, "/local/proj")], root="/local/proj"))
    out: list[Diagnostic] = []
    start = 0
    for cut in sorted(set(cuts)):
        out += parser.feed(log[start:cut])
        start = cut
    return out + parser.feed(log[start:]) + parser.close()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(sorted(SAMPLES)),
    fractions=st.lists(st.floats(min_value=0, max_value=1), max_size=60),
)
def test_any_chunking_gives_the_same_result(name: str, fractions: list[float]) -> None:
    log, root, _ = SAMPLES[name]
    cuts = [int(fraction * len(log)) for fraction in fractions]
    assert _feed_split(log, root, cuts) == WHOLE[name]


@settings(max_examples=10, deadline=None)
@given(size=st.integers(min_value=1, max_value=7))
def test_tiny_chunks_split_every_escape_and_character(size: int) -> None:
    log, root, _ = SAMPLES["p9-color"]
    assert parse(log, root, chunk=size) == WHOLE["p9-color"]


def test_failure_is_emitted_when_the_next_header_arrives() -> None:
    parser = DiagnosticParser()
    head = (
        b"=== FAILURES ===\n"
        b"___ test_a ___\n\n    def test_a():\n>       assert 1 == 2\nE       assert 1 == 2\n\n"
        b"tests/test_x.py:2: AssertionError\n"
    )
    assert parser.feed(head) == []
    emitted = parser.feed(b"___ test_b ___\n")
    assert [(d.path, d.line, d.test, d.message) for d in emitted] == [
        ("tests/test_x.py", 2, "tests/test_x.py::test_a", "AssertionError: assert 1 == 2")
    ]
    assert emitted[0].definition is not None
    assert emitted[0].definition.line == 1


def test_every_failure_is_out_before_close() -> None:
    """A live run shows each failure before pytest exits: nothing may wait for close()."""
    log, root, _ = SAMPLES["tox-two-envs"]
    parser = DiagnosticParser(PathMapper([(root, "/local/proj")], root="/local/proj"))
    fed = parser.feed(log)
    assert fed == WHOLE["tox-two-envs"]
    assert parser.close() == []


def test_status_follows_progress() -> None:
    parser = DiagnosticParser()
    parser.feed(b"alpha: commands[0]> python -m pytest\n=== test session starts ===\n")
    parser.feed(b"tests/test_a.py ..F.E                     [ 40%]\n")
    status = parser.status
    assert (status.env, status.passed, status.failed, status.percent) == ("alpha", 3, 2, 40)
    parser.feed(b"tests/test_b.py::test_c PASSED          [ 60%]\n")
    assert (parser.status.passed, parser.status.percent) == (4, 60)
    parser.feed(b"=== 2 failed, 8 passed, 1 xfailed in 0.50s ===\n")
    status = parser.status
    assert (status.passed, status.failed, status.percent) == (8, 2, 100)


def test_status_from_xdist_progress() -> None:
    parser = DiagnosticParser()
    parser.feed(b"=== test session starts ===\n[gw1] [ 50%] FAILED tests/t.py::test_x \n")
    parser.feed(b"[gw0] [100%] PASSED tests/t.py::test_y \n")
    status = parser.status
    assert (status.passed, status.failed, status.percent) == (1, 1, 100)
