"""Run-on-save: trailing-edge debounce, then cancel the run in flight, then run.

Saves that arrive while the debounce waits or while the previous run is being stopped
only set one flag, so a burst of saves never queues more than one run.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import logging
import posixpath
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


def glob_matches(relative_path: str, pattern: str) -> bool:
    """VS Code-style globs: `**/` matches any directories, including none."""
    path = relative_path.replace("\\", "/")
    if fnmatch.fnmatchcase(path, pattern):
        return True
    if pattern.startswith("**/"):
        return glob_matches(path, pattern[3:]) or fnmatch.fnmatchcase(
            posixpath.basename(path), pattern[3:]
        )
    return False


class Debouncer:
    """Call `start()` after `delay_s` without another `trigger()`.

    `stop_previous` is awaited first: it cancels the run in flight and waits for it.
    `start` must only start the run (as a task it owns) and return.
    """

    def __init__(
        self,
        stop_previous: Callable[[], Awaitable[None]],
        start: Callable[[], None],
    ) -> None:
        self._stop_previous = stop_previous
        self._start = start
        self._wake = asyncio.Event()
        self.delay_s = 0.3
        self._loop: asyncio.Task[None] | None = None

    def trigger(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self._wake.set()
        if self._loop is None or self._loop.done():
            self._loop = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while True:  # restart the quiet period on every save
                try:
                    async with asyncio.timeout(self.delay_s):
                        await self._wake.wait()
                except TimeoutError:
                    break
                self._wake.clear()
            try:
                await self._stop_previous()
                self._start()
            except Exception:
                log.exception("run-on-save failed to start a run")

    async def close(self) -> None:
        if self._loop is not None:
            self._loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop
