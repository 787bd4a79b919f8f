"""Skipping lines that cannot matter, in raw bytes, without decoding or splitting them.

Outside failure, error, warning and summary sections the parser only acts on a few kinds
of line; most of a big log (progress, captured output, a tool's own chatter) is none of
them. Each kind is recognised by an ASCII literal at the start of the line, at its end
or anywhere in it, and `bytes.find` looks for such literals at memchr speed.

The literals are checked on raw bytes while the parser checks decoded lines, which is
the same thing: UTF-8 decoding (with U+FFFD for invalid bytes) maps every ASCII byte to
the same character, and no non-ASCII byte to an ASCII character. Lines with a colour code
or a carriage return are never skipped: their decoded text is not their raw bytes.
"""

from __future__ import annotations


class Needle:
    """A literal, found by first looking for one of its bytes with memchr.

    `bytes.find` runs at memchr speed for one byte but far slower for a short literal,
    so where the chosen byte is rare (in a long stretch of noise, say) the search skips
    ahead to it; from there on it is an ordinary search.
    """

    __slots__ = ("_byte", "_offset", "text")

    def __init__(self, text: bytes, byte: bytes) -> None:
        self.text = text
        self._byte = byte
        self._offset = text.index(byte)

    def find(self, buf: bytes, start: int, stop: int) -> int:
        """Like `buf.find(self.text, start, stop)`."""
        text, offset = self.text, self._offset
        if len(text) == 1:
            return buf.find(text, start, stop)
        # An occurrence at `start` or later has the byte at `start + offset` or later.
        at = buf.find(self._byte, start + offset, stop)
        if at < 0:
            return -1
        return buf.find(text, max(start, at - offset), stop)


# A literal that starts with a newline matches at the start of a line: that newline
# ends the line before it.
Needles = tuple[Needle, ...]

_ANY_LINE = (
    Needle(b"\n==", b"="),  # a `=== section ===` line: a section starts or the session ends
    Needle(b"commands", b"m"),  # `env: commands[0]> …`: a tox env starts
    Needle(b"\x1b", b"\x1b"),
    Needle(b"\r", b"\r"),
)
# In a pytest session: `rootdir: …`, progress (`… [ 45%]`) and xdist's `[gw0] [ 45%] …`.
SESSION: Needles = (
    *_ANY_LINE,
    Needle(b"\nrootdir: ", b":"),
    Needle(b"\n[gw", b"g"),
    Needle(b"%]\n", b"%"),
)
# Outside a session (before it, after it, in a section such as PASSES): the final counts
# without decoration (`3 passed in 0.1s`; ` in ` is the one literal all of them contain)
# and a conftest that fails to import.
OUTSIDE: Needles = (
    *_ANY_LINE,
    Needle(b" in ", b" "),
    Needle(b"\nImportError while loading conftest ", b"I"),
)


def next_line(buf: bytes, pos: int, end: int, needles: Needles, found: dict[Needle, int]) -> int:
    """The start of the first line at or after `pos` that holds a needle, or `end + 1`.

    `buf[pos - 1]` and `buf[end]` are newlines and lines are searched up to `end`.
    `found` caches where each needle occurs next in `buf` (`end + 1`: nowhere), so that
    each byte is searched at most once per needle however many lines are picked.
    """
    best = end + 1
    for needle in needles:
        at = found.get(needle, -1)
        if at < pos - 1:
            at = needle.find(buf, pos - 1, end + 1)
            if at < 0:
                at = end + 1
            found[needle] = at
        if at < best:
            best = at
    if best > end:
        return best
    # A needle that starts with a newline (the one at `best`) picks the line after it.
    return buf.rfind(b"\n", pos - 1, best + 1) + 1
