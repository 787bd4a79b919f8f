"""The editor's view of one run, whoever started it: `tox/status`, `tox/testRun`, batched
`tox/output` and `tox/testResults`, `$/progress`, and diagnostics (lsp/results.py).

Output and results are flushed as they come, then at most once per FLUSH_INTERVAL_S: at
most one `tox/output` per stream and one `tox/testResults` per run each interval, so an
editor is never flooded, and the first result after a quiet spell (one test's, say) goes out
at once instead of waiting for a tick.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from toxbridge.diagnostics import PathMapper
from toxbridge.lsp.messages import OUTPUT, TEST_RESULTS, TEST_RUN
from toxbridge.lsp.output import FLUSH_INTERVAL_S, OutputBatcher
from toxbridge.lsp.progress import RunProgress
from toxbridge.lsp.results import RunResults, selected_envs
from toxbridge.lsp.settings import Settings
from toxbridge.net.client import RemoteRun, RunEvent
from toxbridge.wire import protocol

if TYPE_CHECKING:
    from toxbridge.lsp.session import Session


def path_mapper(settings: Settings, workspace: str | None, cwd: str) -> PathMapper:
    """Container paths → local ones: the explicit `pathMappings`, else the server's tox
    root (`started.cwd`) → the workspace."""
    if settings.path_mappings:
        pairs = [(item.container, item.local) for item in settings.path_mappings]
    elif workspace is not None:
        pairs = [(cwd, workspace)]
    else:
        pairs = []
    return PathMapper(mappings=pairs, root=cwd)


class Relay:
    def __init__(
        self,
        session: Session,
        progress: RunProgress,
        *,
        origin: str = "run",
        args: Sequence[str] = (),
        enqueued: Sequence[str] = (),
    ) -> None:
        self.session = session
        self.progress = progress
        self.origin = origin
        self.args = list(args)
        self.enqueued = list(enqueued)  # test ids the run was asked for
        self.batcher = OutputBatcher()
        self.results: RunResults | None = None
        self.remote: RemoteRun | None = None
        self.run_id: str | None = None
        self.exit: protocol.Exit | None = None
        self.workspace = session.workspace_root
        self._ticker: asyncio.Task[None] | None = None
        self._pending = asyncio.Event()  # something came since the last flush
        self._announced = False  # tox/testRun "started" was sent
        self._results_sent = False
        self.lossy = False  # a watched run whose messages were partly dropped

    @property
    def env(self) -> str:
        return ",".join(selected_envs(self.args))

    async def relay(self, remote: RemoteRun) -> protocol.Exit:
        self.remote = remote
        self.run_id = remote.id
        self.start_ticking()
        async for event in remote:
            self.handle(event)
        assert remote.result is not None  # noqa: S101 - the loop ends only at the exit
        return remote.result

    def start_ticking(self) -> None:
        self._ticker = asyncio.create_task(self._tick())

    async def drain(self, remote: RemoteRun) -> None:
        async for event in remote:
            self.handle(event)

    def handle(self, event: RunEvent) -> None:
        self._pending.set()
        match event:
            case protocol.Output(stream=stream, data=data):
                self.batcher.feed(stream.value, data)
                if self.results is not None:
                    self.results.output(data, stream.value)
            case protocol.Test():
                if self.results is not None:
                    self.results.records(event.records())
            case protocol.Queued(position=position):
                self.session.notify_status("queued", runId=self.run_id, position=position)
                self.progress.report(f"queued, {position} run(s) ahead")
            case protocol.Started(cwd=cwd):
                if event.args is not None and not self.args:
                    self.args = list(event.args)
                self.results = RunResults(
                    self.session.diagnostics,
                    self._mapper(cwd),
                    self.workspace,
                    self.args,
                    events_on=event.events,
                )
                for test_id in self.enqueued:
                    self.results.batch.add({"id": test_id, "state": "enqueued"})
                self.session.notify_status("running", runId=self.run_id)
                self._notify_run("started")
                self.progress.report("running")
            case protocol.Exit(cancelled=cancelled):
                self.exit = event
                if self.results is not None:
                    self.results.close(complete=not cancelled and not self.lossy)

    def _mapper(self, cwd: str) -> PathMapper:
        return path_mapper(self.session.settings, self.workspace, cwd)

    def _notify_run(self, state: str, **fields: Any) -> None:
        if state == "started":
            self._announced = True
        elif not self._announced:
            return
        message = {"runId": self.run_id, "env": self.env, "state": state, "origin": self.origin}
        self.session.server.protocol.notify(TEST_RUN, {**message, "args": self.args, **fields})

    async def _tick(self) -> None:
        while True:
            await self._pending.wait()
            self._pending.clear()
            self._flush(final=False)
            await asyncio.sleep(FLUSH_INTERVAL_S)

    def _flush(self, *, final: bool) -> None:
        notify = self.session.server.protocol.notify
        for batch in self.batcher.flush(final=final):
            notify(OUTPUT, {"runId": self.run_id, "stream": batch.stream, "text": batch.text})
        if self.results is None:
            return
        entries = self.results.take_results()
        if entries:
            env = self.env or (self.results.exact.env if self.results.exact else None) or ""
            notify(TEST_RESULTS, {"runId": self.run_id, "env": env, "results": entries})
            self.session.results_changed(entries)
            self._results_sent = True
        if not final:
            self.progress.report(*self.results.progress())

    @property
    def count(self) -> int:
        return self.results.count if self.results is not None else 0

    async def close(self) -> None:
        """Always runs: final output and results, the end of progress, status and run."""
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        if self.results is not None and self.exit is None:
            self.results.close(complete=False)
        self._flush(final=True)
        if self._results_sent:
            self.session.refresh_lenses()
        if self.exit is None:  # the request failed or was cancelled before the exit
            self.progress.end("tox did not finish")
            self.session.notify_status("idle", runId=self.run_id)
            self._notify_run("ended", cancelled=True)
            return
        outcome = "cancelled" if self.exit.cancelled else f"exit code {self.exit.code}"
        self.progress.end(f"{outcome}, {self.count} problem(s) in {self.exit.duration_s:.1f}s")
        self.session.notify_status(
            "finished",
            runId=self.run_id,
            exitCode=self.exit.code,
            cancelled=self.exit.cancelled,
            env=self.results.parser.status.env if self.results is not None else None,
        )
        self._notify_run("ended", exitCode=self.exit.code, cancelled=self.exit.cancelled)
