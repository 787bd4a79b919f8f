"""The partial last line between two chunks, held in bounded memory and linear time.

A stream may send megabytes without a newline (a progress bar redrawn with `\\r`, a huge
repr, binary noise). Each chunk is appended once to the held bytes, never copied again
until its line ends, and a line longer than `MAX_LINE` bytes keeps only its first
`MAX_LINE` bytes, the note `… [N bytes cut]` included. Lines that arrive whole inside one
chunk are cut the same way, so the result never depends on how the input was split.
"""

from __future__ import annotations

MAX_LINE = 1 << 20
# A cut line keeps this much and a note of at most 40 bytes, so it is never cut again.
_KEEP = MAX_LINE - 40


def _cut(line: bytes, length: int) -> bytes:
    """The first bytes of a line of `length` bytes, and the note."""
    return line[:_KEEP] + b" \xe2\x80\xa6 [%d bytes cut]" % (length - _KEEP)


class PartialLine:
    """The bytes after the last newline seen so far, at most `MAX_LINE` of them kept."""

    __slots__ = ("_held", "cut")

    def __init__(self) -> None:
        self._held = bytearray()
        self.cut = 0  # bytes of the current line dropped so far

    def __bool__(self) -> bool:
        return bool(self._held) or self.cut > 0

    def hold(self, data: bytes | memoryview) -> None:
        room = MAX_LINE - len(self._held)
        if len(data) <= room:
            self._held += data
            return
        if room > 0:
            self._held += data[:room]
        self.cut += len(data) - max(room, 0)

    def take(self) -> bytes:
        """The held line (with its note if it was cut), and start a new one."""
        line = bytes(self._held)
        if self.cut:
            line = _cut(line, len(line) + self.cut)
        self._held.clear()
        self.cut = 0
        return line


def cut_long_lines(block: bytes) -> bytes:
    """`block` (whole lines) with every line over `MAX_LINE` cut."""
    lines = block.split(b"\n")
    for index, line in enumerate(lines):
        if len(line) > MAX_LINE:
            lines[index] = _cut(line, len(line))
    return b"\n".join(lines)
