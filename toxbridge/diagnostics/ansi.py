"""Bytes chunks in, whole text lines out, without ANSI colour codes.

Chunks may split a line, a UTF-8 character or an escape sequence anywhere: the decoder
keeps partial characters and the splitter keeps the partial last line, and colour codes
are only removed from complete lines, so a split sequence is always seen whole.
"""

from __future__ import annotations

import codecs
import re

# CSI sequences (colours, cursor moves) and the two-character escapes some tools print.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text) if "\x1b" in text else text


class LineSplitter:
    """Incremental UTF-8 decoding and line splitting; invalid bytes become U+FFFD."""

    __slots__ = ("_decoder", "_pending")

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending = ""

    def feed(self, data: bytes) -> list[str]:
        text = self._pending + self._decoder.decode(data)
        end = text.rfind("\n")
        if end < 0:
            self._pending = text
            return []
        self._pending = text[end + 1 :]
        return _lines(text[:end])

    def close(self) -> list[str]:
        text = self._pending + self._decoder.decode(b"", final=True)
        self._pending = ""
        return _lines(text) if text else []


def _lines(block: str) -> list[str]:
    block = strip_ansi(block)
    if "\r" in block:
        # A carriage return redraws the line: keep what was drawn last.
        return [line.rstrip("\r").rpartition("\r")[2] for line in block.split("\n")]
    return block.split("\n")
