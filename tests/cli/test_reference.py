"""The README's command-line reference is the parser's: regenerate it, compare."""

from __future__ import annotations

from tests.cli.reference import END, README, START, reference


def test_readme_reference_matches_the_parser() -> None:
    text = README.read_text()
    assert START in text
    assert END in text
    current = START + text.split(START, 1)[1].split(END, 1)[0] + END
    assert current == reference(), "run: python -m tests.cli.reference --write"
