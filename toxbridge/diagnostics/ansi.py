"""Bytes chunks in, whole text lines out, without ANSI colour codes.

Chunks may split a line, a UTF-8 character or an escape sequence anywhere: the splitter
keeps the raw bytes of the partial last line and decodes and removes colour codes only
from complete lines, so a split character or sequence is always seen whole.
"""

from __future__ import annotations

import re

# CSI sequences (colours, cursor moves) and the two-character escapes some tools print.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text) if "\x1b" in text else text


def decode_lines(block: bytes) -> list[str]:
    """Complete lines (`block` holds no partial character) as text, colour codes removed.

    Decoding lines one block at a time gives the same text as decoding the whole stream:
    a newline byte is never part of a UTF-8 sequence, so it ends any partial one.
    """
    return _lines(block.decode("utf-8", "replace"))


class LineSplitter:
    """Incremental UTF-8 decoding and line splitting; invalid bytes become U+FFFD."""

    __slots__ = ("_pending",)

    def __init__(self) -> None:
        self._pending = b""

    def feed(self, data: bytes) -> list[str]:
        data = self._pending + data
        end = data.rfind(b"\n")
        if end < 0:
            self._pending = data
            return []
        self._pending = data[end + 1 :]
        return decode_lines(data[:end])

    def close(self) -> list[str]:
        data, self._pending = self._pending, b""
        return decode_lines(data) if data else []


def _lines(block: str) -> list[str]:
    block = strip_ansi(block)
    if "\r" in block:
        # A carriage return redraws the line: keep what was drawn last.
        return [line.rstrip("\r").rpartition("\r")[2] for line in block.split("\n")]
    return block.split("\n")
