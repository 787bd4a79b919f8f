"""Whole lines of bytes in, text lines out, without terminal escape sequences.

The parser decodes only complete lines (it holds the raw bytes of a partial last line, see
`lines.py`), so a UTF-8 character or an escape sequence split between two chunks is always
seen whole here.
"""

from __future__ import annotations

import re

# CSI sequences (colours, cursor moves); OSC (`ESC ]`: hyperlinks as `ESC ]8;;URI ESC \\`,
# window titles ending in BEL) and the other string sequences (DCS, SOS, PM, APC), which run
# up to a BEL or a String Terminator (`ESC \\` or C1 ST; one left open ends with its line);
# then the two-character escapes some tools print.
_ANSI = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b[\]PX^_][^\x07\x1b\x9c\n]*(?:\x07|\x1b\\|\x9c|$)"
    r"|\x1b[@-Z\\-_]",
    re.MULTILINE,
)


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text) if "\x1b" in text else text


def decode_lines(block: bytes) -> list[str]:
    """Complete lines (`block` holds no partial character) as text, escapes removed.

    Decoding lines one block at a time gives the same text as decoding the whole stream:
    a newline byte is never part of a UTF-8 sequence, so it ends any partial one.
    """
    text = strip_ansi(block.decode("utf-8", "replace"))
    if "\r" in text:
        # A carriage return redraws the line: keep what was drawn last.
        return [line.rstrip("\r").rpartition("\r")[2] for line in text.split("\n")]
    return text.split("\n")
