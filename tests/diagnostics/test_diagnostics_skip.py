"""Skipping lines in raw bytes must change nothing: same diagnostics, same status."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.diagnostics.corpus import load, log_names, mapper_for
from toxbridge.diagnostics import (
    Diagnostic,
    DiagnosticParser,
    Location,
    PathMapper,
    RunStatus,
    Severity,
    skip,
)

# What a long run prints between the lines that matter (tests/helpers/big.py's lines).
NOISE_LINE = b"00000042" + b"x" * 91 + b"\n"

# Lines that look like, or are, lines that matter only after decoding, or only in some
# sections, next to lines that matter everywhere.
POOL = [
    NOISE_LINE,
    b"\n",
    b"plain captured output\n",
    b"x == y and a % b in c\n",
    b"== not a section\n",
    b"== \n",
    b"=== FAILURES ===\n",
    b"=== ERRORS ===\n",
    b"=== PASSES ===\n",
    b"=== warnings summary ===\n",
    b"=== short test summary info ===\n",
    b"=== test session starts ===\n",
    b"=== 1 failed, 2 passed in 0.12s ===\n",
    b"\x1b[1m=== FAILURES ===\x1b[0m\n",
    b"noise\r=== FAILURES ===\n",
    b"=== FAILURES ===\r\n",
    b"rootdir: /app\n",
    b"rootdir: /other, configfile: tox.ini\n",
    b"tests/test_x.py ..F.                                     [ 40%]\n",
    b"tests/test_x.py::test_a PASSED                           [ 50%]\n",
    b"tests/test_x.py::test_b FAILED                           [ 60%]\n",
    b"tests/test_x.py::test_c PASSED\x1b[32m                   [ 70%]\x1b[0m\n",
    b"tests/test_x.py::test_d PASSED                           [ 80%]\r\n",
    b"tests/test_x.py::test_e PASSED                           [ 90%] \n",
    b"[gw0] [ 50%] PASSED tests/test_x.py::test_f \n",
    b"[gw1] [100%] FAILED tests/test_x.py::test_a \n",
    b"3 passed in 0.10s\n",
    b"2 failed, 1 passed in 0.10s (0:00:01)\n",
    "\u0663 passed in 0.10s\n".encode(),
    b"\xff\xfe 1 passed in 0.1s\n",
    b"12 items in the list\n",
    b"alpha: commands[0]> python -m pytest\n",
    b"beta: commands_pre[1]> pip list\n",
    b"\x1b[1mgamma: commands[0]> pytest\x1b[0m\n",
    b"echo commands[0]> is not a tox line\n",
    b"ImportError while loading conftest '/app/tests/conftest.py'.\n",
    b"tests/conftest.py:3: in <module>\n",
    b"E   ModuleNotFoundError: No module named 'nope'\n",
    b"___ test_a ___\n",
    b"\n",
    b"    def test_a():\n",
    b">       assert 1 == 2\n",
    b"E       assert 1 == 2\n",
    b"tests/test_x.py:3: AssertionError\n",
    b"/app/tests/test_x.py:4: AssertionError\n",
    b"/other/tests/test_x.py:5: in helper\n",
    b"--- Captured stdout call ---\n",
    b"tests/test_x.py:7: RuntimeWarning: in noise\n",
    b"  /app/tests/test_x.py:9: UserWarning: careful\n",
    b"tests/test_x.py::test_a\n",
    b"FAILED tests/test_x.py::test_a - AssertionError: assert 1 == 2\n",
    b"ERROR tests/test_x.py::test_b - RuntimeError: boom\n",
    b"tests/test_x.py:5: assert 0\n",
    "caf\u00e9 \u00fcber % ]\n".encode(),
    b"\xe2\x82",  # a character cut off by the end of the line
    b"no newline at the end",
]


class LineByLine(DiagnosticParser):
    """The parser with skipping turned off: every line is decoded and looked at."""

    def _needles(self) -> skip.Needles | None:
        return None


Trace = list[tuple[list[Diagnostic], RunStatus]]


def _trace(parser: DiagnosticParser, data: bytes, cuts: list[int]) -> Trace:
    """What the parser returns, and its status, after every chunk and at the end."""
    trace: Trace = []
    start = 0
    for cut in [*sorted(set(cuts)), len(data)]:
        trace.append((parser.feed(data[start:cut]), parser.status))
        start = cut
    trace.append((parser.close(), parser.status))
    return trace


def _cuts(data: bytes, fractions: list[float]) -> list[int]:
    return [int(fraction * len(data)) for fraction in fractions]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    lines=st.lists(st.sampled_from(POOL), max_size=80),
    fractions=st.lists(st.floats(min_value=0, max_value=1), max_size=12),
)
def test_skipping_changes_nothing_on_mixed_lines(
    lines: list[bytes], fractions: list[float]
) -> None:
    data = b"".join(lines)
    cuts = _cuts(data, fractions)
    assert _trace(DiagnosticParser(), data, cuts) == _trace(LineByLine(), data, cuts)


def test_skipping_changes_nothing_on_any_two_lines() -> None:
    """Every pair of lines, with noise around them: each line can set the section (or
    the state) in which the other one is read or skipped."""
    for first in POOL:
        for second in POOL:
            data = NOISE_LINE + first + NOISE_LINE + second + NOISE_LINE + b"tests/t.py:1: E\n"
            cuts = [len(NOISE_LINE) + len(first) + 3]
            assert _trace(DiagnosticParser(), data, cuts) == _trace(LineByLine(), data, cuts)


# pytest's rootdir is not the server's root: the test id depends on the rootdir line.
SKELETON = b"""\
py: commands[0]> python -m pytest
=== test session starts ===
rootdir: /other
tests/test_x.py .F                                                 [100%]
=== FAILURES ===
___ test_a ___

    def test_a():
>       assert 1 == 2
E       assert 1 == 2

/other/tests/test_x.py:3: AssertionError
=== short test summary info ===
FAILED tests/test_x.py::test_a - assert 1 == 2
=== 1 failed, 1 passed in 0.01s ===
"""


def test_skipping_changes_nothing_with_any_line_anywhere_in_a_run() -> None:
    lines = SKELETON.splitlines(keepends=True)
    for index in range(len(lines) + 1):
        for extra in POOL:
            data = b"".join([*lines[:index], NOISE_LINE, extra, b"\n", *lines[index:]])
            cuts = [len(b"".join(lines[:index])) + 5]
            mapper = PathMapper([("/app", "/local")], root="/app")
            reference = _trace(LineByLine(mapper), data, cuts)
            assert _trace(DiagnosticParser(mapper), data, cuts) == reference


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(log_names()),
    noise=st.integers(min_value=0, max_value=3),
    fractions=st.lists(st.floats(min_value=0, max_value=1), max_size=20),
)
def test_skipping_changes_nothing_on_the_corpus(
    name: str, noise: int, fractions: list[float]
) -> None:
    log, root, _ = load(name)
    # Noise between every line, as a test printing to the terminal with `-s` makes.
    data = log.replace(b"\n", b"\n" + NOISE_LINE * noise)
    cuts = _cuts(data, fractions)
    reference = _trace(LineByLine(mapper_for(root)), data, cuts)
    assert _trace(DiagnosticParser(mapper_for(root)), data, cuts) == reference


FAILING_SESSION = b"""\
py: commands[0]> python -m pytest -v
============================= test session starts ==============================
rootdir: /app
collected 3 items

tests/test_x.py::test_a PASSED                                           [ 33%]
tests/test_x.py::test_b PASSED                                           [ 66%]
tests/test_x.py::test_c FAILED                                           [100%]

=================================== FAILURES ===================================
___________________________________ test_c ____________________________________

    def test_c():
>       assert 1 == 2
E       assert 1 == 2

tests/test_x.py:9: AssertionError
=========================== short test summary info ============================
FAILED tests/test_x.py::test_c - assert 1 == 2
========================= 1 failed, 2 passed in 0.05s ==========================
"""
FIVE_MB = NOISE_LINE * (5_000_000 // len(NOISE_LINE))
# The noise before the session, and printed by the passing tests (`-s`) during it.
NOISY_RUN = FIVE_MB + FAILING_SESSION.replace(b"[ 33%]\n", b"[ 33%]\n" + FIVE_MB)
EXPECTED = Diagnostic(
    path="/local/tests/test_x.py",
    line=9,
    column=None,
    severity=Severity.ERROR,
    message="AssertionError: assert 1 == 2",
    test="tests/test_x.py::test_c",
    env="py",
    definition=Location("/local/tests/test_x.py", 8),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fractions=st.lists(st.floats(min_value=0, max_value=1), max_size=30))
def test_a_failure_after_megabytes_of_noise_is_found(fractions: list[float]) -> None:
    parser = DiagnosticParser(PathMapper([("/app", "/local")], root="/app"))
    found: list[Diagnostic] = []
    start = 0
    for cut in [*sorted(set(_cuts(NOISY_RUN, fractions))), len(NOISY_RUN)]:
        found += parser.feed(NOISY_RUN[start:cut])
        start = cut
        if start == len(FIVE_MB) + FAILING_SESSION.index(b"tests/test_x.py::test_b"):
            status = parser.status
            assert (status.env, status.passed, status.failed, status.percent) == ("py", 1, 0, 33)
    assert found + parser.close() == [EXPECTED]
    status = parser.status
    assert (status.env, status.passed, status.failed, status.percent) == ("py", 2, 1, 100)


def test_status_counts_progress_between_noise() -> None:
    parser = DiagnosticParser()
    head = FAILING_SESSION[: FAILING_SESSION.index(b"\n\n====")]
    noisy = head.replace(b"%]\n", b"%]\n" + NOISE_LINE * 1000)
    assert parser.feed(FIVE_MB + noisy + b"\n") == []
    status = parser.status
    assert (status.env, status.passed, status.failed, status.percent) == ("py", 2, 1, 100)


@settings(max_examples=300, deadline=None)
@given(
    data=st.binary(max_size=60).map(lambda raw: raw.replace(b"\0", b"=")),
    start=st.integers(min_value=0, max_value=70),
    stop=st.integers(min_value=0, max_value=70),
    needle=st.sampled_from([*skip.SESSION, *skip.OUTSIDE]),
)
def test_needle_find_is_bytes_find(data: bytes, start: int, stop: int, needle: skip.Needle) -> None:
    for haystack in (data, data + needle.text + data, needle.text[:-1] + data):
        expected = haystack.find(needle.text, start, stop)
        assert needle.find(haystack, start, stop) == expected
