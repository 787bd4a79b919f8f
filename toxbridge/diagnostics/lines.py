"""The partial last line between two chunks, held in bounded memory and linear time.

A stream may send megabytes without a newline (a progress bar redrawn with `\\r`, a huge
repr, binary noise). Each chunk is kept as it came, never copied again until its line
ends, and a line longer than `MAX_LINE` bytes keeps only its first `MAX_LINE` bytes, the
note `… [N bytes cut]` included. Lines that arrive whole inside one chunk are cut the same
way, so the result never depends on how the input was split.
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

    __slots__ = ("_pieces", "cut", "size")

    def __init__(self) -> None:
        self._pieces: list[bytes] = []
        self.size = 0  # bytes kept
        self.cut = 0  # bytes of the current line dropped so far

    def hold(self, data: bytes) -> None:
        room = MAX_LINE - self.size
        if len(data) > room:
            self.cut += len(data) - max(room, 0)
            data = data[: max(room, 0)]
        if data:
            self._pieces.append(data)
            self.size += len(data)

    def take(self) -> bytes:
        """The held line (with its note if it was cut), and start a new one."""
        cut, length = self.cut, self.size + self.cut
        line = b"".join(self._pieces)
        self._pieces, self.size, self.cut = [], 0, 0
        return _cut(line, length) if cut else line


def cut_long_lines(block: bytes) -> bytes:
    """`block` (whole lines) with every line over `MAX_LINE` cut."""
    lines = block.split(b"\n")
    for index, line in enumerate(lines):
        if len(line) > MAX_LINE:
            lines[index] = _cut(line, len(line))
    return b"\n".join(lines)
