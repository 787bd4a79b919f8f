"""The server's runs: their state from acceptance to `exit`, and the queue.

One tox at a time: `RunQueue` hands runs to the server's scheduler in order. An
`ActiveRun` counts the output credit its client has granted, so nothing is ever sent
that the ROUTER could drop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Iterator, Sequence

from toxbridge.wire import protocol

log = logging.getLogger(__name__)

WINDOW = 64  # the most credit a run holds, whatever its client grants
CANCEL_STALL_S = 2.0


class ActiveRun:
    """A run from the moment it is accepted until its `exit` has been sent."""

    def __init__(
        self,
        envelope: Sequence[bytes],
        request: protocol.Run,
        *,
        window: int = WINDOW,
        liveness_s: float | None = None,
    ) -> None:
        self.envelope = tuple(envelope)
        self.request = request
        self.id = request.id
        self.window = window
        self.liveness_s = liveness_s  # the server's, told to the client
        self.credit = min(request.credit, window)
        self.cancel_requested = asyncio.Event()
        self.abandoned = False  # the client is gone: discard output instead of waiting
        self.discarding = False  # the client is there but takes no output (see take_credit)
        self.paused = False  # the client stopped on purpose (^Z): no liveness while it lasts
        self.end_reason: protocol.EndReason | None = None  # who ended it, when not its client
        self.end_detail: str | None = None
        self.sent = 0  # flow-controlled messages sent: the next one's seq
        self.pid: int | None = None
        self.started_at: float | None = None
        self.started: protocol.Started | None = None  # as sent, for a later watcher
        self._credit_granted = asyncio.Event()

    @property
    def client(self) -> bytes:
        return self.envelope[0]

    def grant(self, n: int) -> None:
        self.credit = min(self.credit + n, self.window)
        self._credit_granted.set()

    def cancel(
        self,
        *,
        abandon: bool = False,
        reason: protocol.EndReason | None = None,
        detail: str | None = None,
    ) -> None:
        """Stop the run; `reason` and `detail` tell its client who did, when not itself."""
        if not self.cancel_requested.is_set() and reason is not None:
            self.end_reason, self.end_detail = reason, detail
        self.abandoned = self.abandoned or abandon
        self.cancel_requested.set()
        self._credit_granted.set()

    async def wait_cancelled(self, seconds: float) -> None:
        """Wait `seconds`, or less if the run is cancelled meanwhile."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self.cancel_requested.wait()

    async def take_credit(self) -> bool:
        """Wait for credit for one output message; False means: discard it.

        Output is discarded once the client is gone, or when a cancelled run's client
        grants no credit for `CANCEL_STALL_S`: a cancel must end the run even then.
        """
        while self.credit <= 0 and not (self.abandoned or self.discarding):
            self._credit_granted.clear()
            if not self.cancel_requested.is_set():
                await self._credit_granted.wait()
                continue
            try:
                async with asyncio.timeout(CANCEL_STALL_S):
                    await self._credit_granted.wait()
            except TimeoutError:
                log.warning("run %s: cancelled and its client takes no output; discarding", self.id)
                self.discarding = True
        if self.abandoned or self.discarding:
            return False
        self.credit -= 1
        return True

    @property
    def state(self) -> str:
        if self.paused:
            return "paused"
        return "running" if self.pid is not None else "queued"

    def describe(self) -> dict[str, object]:
        return {
            "id": self.id,
            "args": list(self.request.args),
            "pid": self.pid,
            "started": self.started_at,
            "client": self.client.hex()[:16],
            "state": self.state,
            "credit": self.credit,
            "sent": self.sent,
        }


class RunQueue:
    """Runs waiting for their turn, plus the one running now."""

    def __init__(self) -> None:
        self.waiting: deque[ActiveRun] = deque()
        self.current: ActiveRun | None = None
        self._added = asyncio.Event()

    def __iter__(self) -> Iterator[ActiveRun]:
        if self.current is not None:
            yield self.current
        yield from self.waiting

    def add(self, run: ActiveRun) -> int:
        """Queue `run`; returns its position (0 = it runs next)."""
        self.waiting.append(run)
        self._added.set()
        return len(self.waiting) - 1 + (self.current is not None)

    def remove(self, run: ActiveRun) -> None:
        with contextlib.suppress(ValueError):
            self.waiting.remove(run)

    def waiting_for(self, client: bytes) -> int:
        return sum(run.client == client for run in self.waiting)

    def find(self, client: bytes, run_id: str) -> ActiveRun | None:
        return next((r for r in self if r.client == client and r.id == run_id), None)

    async def next_run(self) -> ActiveRun | None:
        """The next run, or None when woken by `wake()` with nothing waiting."""
        if not self.waiting:
            self._added.clear()
            await self._added.wait()
        return self.waiting.popleft() if self.waiting else None

    def wake(self) -> None:
        self._added.set()
