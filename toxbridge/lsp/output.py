"""Batching of tox output into `tox/output` notifications. Pure: no pygls, no asyncio.

Each stream keeps the raw bytes that arrived since the last flush, capped at one
notification's worth: an editor cannot show 200 MB of log anyway, and decoding only what
is sent keeps the relay fast. When bytes had to be dropped, the next text says how many.
UTF-8 characters split across chunks are decoded whole; the cut after dropping may land
inside a character, whose stray continuation bytes are dropped with the rest.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass

MAX_TEXT_BYTES = 64 * 1024
FLUSH_INTERVAL_S = 0.1  # two streams, one notification each per tick: at most 20/s
# Room for the "skipped" note and for invalid bytes, which decode to 3-byte U+FFFD.
_RAW_CAP = MAX_TEXT_BYTES // 2


@dataclass(frozen=True, slots=True)
class OutputBatch:
    stream: str
    text: str


class _StreamBuffer:
    __slots__ = ("_decoder", "_pending", "_skipped", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self._pending = bytearray()
        self._skipped = 0
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def feed(self, data: bytes) -> None:
        if len(data) >= _RAW_CAP:
            self._skipped += len(self._pending) + len(data) - _RAW_CAP
            self._pending = bytearray(data[-_RAW_CAP:])
            return
        self._pending += data
        excess = len(self._pending) - _RAW_CAP
        if excess > 0:
            self._skipped += excess
            del self._pending[:excess]

    def take(self, final: bool) -> str:
        if not self._pending and not self._skipped and not final:
            return ""
        data = bytes(self._pending)
        self._pending.clear()
        note = ""
        if self._skipped:
            # The decoder's half character belonged to bytes that are gone, and so do
            # continuation bytes at the new start.
            self._decoder.reset()
            start = 0
            while start < len(data) and 0x80 <= data[start] < 0xC0:
                start += 1
            note = f"\n[toxbridge: {self._skipped + start} bytes of output skipped]\n"
            data = data[start:]
            self._skipped = 0
        text = note + self._decoder.decode(data, final)
        encoded = text.encode()
        if len(encoded) > MAX_TEXT_BYTES:  # only with many invalid bytes
            text = encoded[-MAX_TEXT_BYTES:].decode(errors="ignore")
        return text


class OutputBatcher:
    """Feed raw chunks per stream; `flush()` gives at most one batch per stream."""

    def __init__(self) -> None:
        self._streams = {name: _StreamBuffer(name) for name in ("stdout", "stderr")}

    def feed(self, stream: str, data: bytes) -> None:
        self._streams[stream].feed(data)

    def flush(self, *, final: bool = False) -> list[OutputBatch]:
        batches = []
        for buffer in self._streams.values():
            text = buffer.take(final)
            if text:
                batches.append(OutputBatch(buffer.name, text))
        return batches
