"""`ChildProcess` on real processes and pipes: reading and topping up a chunk."""

from __future__ import annotations

import asyncio
import os
import sys

from toxbridge.process.child import ChildProcess, Pipe, StopPolicy

KIB = 1024

# writes `size` bytes to stdout in `writes` separate writes, then exits
WRITER = """\
import os, sys
size, writes = int(sys.argv[1]), int(sys.argv[2])
for n in range(writes):
    os.write(1, bytes([65 + n]) * (size // writes))
"""

# writes a few bytes, then waits until it is stopped
WAITER = "import os, signal\nos.write(1, b'hello')\nsignal.pause()\n"


def python(*argv: str) -> list[str]:
    return [sys.executable, "-c", *argv]


async def test_top_up_joins_what_the_pipe_holds_up_to_the_limit() -> None:
    async with asyncio.timeout(30):
        async with ChildProcess.start(
            python(WRITER, str(100 * KIB), "4"), cwd=os.getcwd(), env=dict(os.environ)
        ) as child:
            assert await child.wait() == 0  # everything is in the pipe now
            first = await child.read(10 * KIB)
            assert first is not None
            assert first.pipe is Pipe.STDOUT
            assert first.data == b"A" * (10 * KIB)
            topped = child.top_up(first, 60 * KIB)
            assert topped.pipe is Pipe.STDOUT
            assert topped.data == b"A" * (25 * KIB) + b"B" * (25 * KIB) + b"C" * (10 * KIB)
            rest = await child.read(1024 * KIB)
            assert rest is not None
            assert topped.data + rest.data == b"".join(
                bytes([65 + n]) * (25 * KIB) for n in range(4)
            )
            # at end of file, topping up changes nothing; the next read ends the stream
            assert child.top_up(rest, 2048 * KIB) is rest
            assert await child.read(KIB) is None


async def test_top_up_on_an_empty_pipe_returns_the_chunk_at_once() -> None:
    async with asyncio.timeout(30):
        async with ChildProcess.start(
            python(WAITER), cwd=os.getcwd(), env=dict(os.environ)
        ) as child:
            chunk = await child.read(KIB)
            assert chunk is not None
            assert chunk.data == b"hello"
            assert child.top_up(chunk, 64 * KIB) is chunk
            await child.stop(StopPolicy(sigint_grace=5))
            assert child.returncode is not None
