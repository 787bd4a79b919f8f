"""Long lines in bounded memory, and terminal escapes (OSC 8 links) that hide a path."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.diagnostics.corpus import family_run, parse
from toxbridge.diagnostics import DiagnosticParser, parse_bytes
from toxbridge.diagnostics.ansi import strip_ansi
from toxbridge.diagnostics.lines import MAX_LINE

OSC = Path(__file__).resolve().parent / "data" / "osc"
CHUNK = 64 * 1024


def _failure(e_line: bytes) -> bytes:
    return (
        b"=== FAILURES ===\n___ test_a ___\n" + e_line + b"\n"
        b"tests/t.py:3: ValueError\n=== 1 failed in 0.1s ===\n"
    )


def test_memory_stays_bounded_without_a_newline() -> None:
    """32 MB without a newline, in 64 KiB chunks: the parser holds at most one cut line."""
    parser = DiagnosticParser()
    chunk = b"x" * CHUNK
    tracemalloc.start()
    try:
        for _ in range(32 * 1024 * 1024 // CHUNK):
            parser.feed(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < MAX_LINE + 4 * CHUNK
    assert parser.feed(b"\n") == []


def test_a_cut_line_says_so_in_the_message() -> None:
    long = b"E   ValueError: " + b"v" * (3 * MAX_LINE)
    (diagnostic,) = parse_bytes(_failure(long))
    assert (diagnostic.path, diagnostic.line) == ("tests/t.py", 3)
    assert diagnostic.message.endswith(f"\u2026 [{len(long) - MAX_LINE + 40} bytes cut]")
    assert len(diagnostic.message) < MAX_LINE


@settings(max_examples=25, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=3 * MAX_LINE + 200), max_size=8))
def test_a_cut_line_does_not_depend_on_chunking(cuts: list[int]) -> None:
    log = _failure(b"E   ValueError: " + b"v" * (3 * MAX_LINE))
    parser = DiagnosticParser()
    out, start = [], 0
    for cut in sorted(set(cuts)):
        out += parser.feed(log[start:cut])
        start = cut
    out += parser.feed(log[start:]) + parser.close()
    assert out == parse_bytes(log)


def test_osc_sequences_from_real_tools_are_stripped() -> None:
    """`ls --hyperlink=always` (BEL), gcc's URLs with BEL and with ST (`GCC_URLS=st`)."""
    plain = (OSC / "gcc-plain.out").read_text(encoding="utf-8")
    for name in ("gcc-bel.out", "gcc-st.out"):
        raw = (OSC / name).read_bytes()
        assert b"\x1b]8;;" in raw
        assert strip_ansi(raw.decode()) == plain
    link = (OSC / "ls-hyperlink.out").read_bytes()
    assert strip_ansi(link.decode()) == "tests/test_calc.py\n"


def _hyperlinked(log: bytes, path: bytes, terminator: bytes) -> bytes:
    """`path` inside an OSC 8 link everywhere in `log`, as `ls --hyperlink` writes one."""
    opened = b"\x1b]8;;file://host/" + path + terminator
    return log.replace(path, opened + path + b"\x1b]8;;" + terminator)


def test_a_path_inside_a_hyperlink_still_parses() -> None:
    run = family_run("fixtures-p9")
    expected = parse(run.log, run.root)
    assert len(expected) == 5
    for terminator in (b"\x07", b"\x1b\\"):
        linked = _hyperlinked(run.log, b"tests/test_calc.py", terminator)
        assert linked.count(b"\x1b]8;;") > 10
        assert parse(linked, run.root) == expected
        assert parse(linked, run.root, chunk=7) == expected
