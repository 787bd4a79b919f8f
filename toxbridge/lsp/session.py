"""Runs through the bridge: one `Session` per editor connection.

A run relays the server's events to the editor: `tox/status`, batched `tox/output`,
`$/progress`, and diagnostics as the parser completes them. Cancelling the task that
executes a run (`$/cancelRequest`, or a newer run-on-save) cancels the remote run and
waits, briefly, for the server to confirm that tox's process tree is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from toxbridge.diagnostics import DiagnosticParser, PathMapper
from toxbridge.errors import ToxbridgeError
from toxbridge.lsp.connection import Connection, ConnectionKey
from toxbridge.lsp.messages import OUTPUT, STATUS
from toxbridge.lsp.output import FLUSH_INTERVAL_S, OutputBatcher
from toxbridge.lsp.progress import RunProgress
from toxbridge.lsp.publish import DiagnosticsPublisher
from toxbridge.lsp.settings import Settings
from toxbridge.net.client import RemoteRun, RunEvent
from toxbridge.wire import protocol

log = logging.getLogger(__name__)

CANCEL_GRACE_S = 10.0  # how long a cancelled request waits for tox's tree to be gone
_ENV_LINE = re.compile(r"^([^\s:]+)(?:\s+->.*)?$")


@dataclass(frozen=True, slots=True)
class RunResult:
    exit_code: int
    cancelled: bool
    duration_s: float
    diagnostics: int

    def to_json(self) -> dict[str, Any]:
        return {
            "exitCode": self.exit_code,
            "cancelled": self.cancelled,
            "durationS": self.duration_s,
            "diagnostics": self.diagnostics,
        }


def parse_env_list(text: str) -> list[str]:
    """Env names from `tox l` output (names, optionally `-> description`, under headings)."""
    names = []
    for line in text.splitlines():
        match = _ENV_LINE.match(line.strip())
        if match and match.group(1) not in names:
            names.append(match.group(1))
    return names


def status_message(env: str | None, passed: int, failed: int) -> str:
    where = f"{env}: " if env else ""
    return f"{where}{passed} passed, {failed} failed" if passed or failed else f"{where}running"


class Session:
    def __init__(self, server: LanguageServer, settings: Settings) -> None:
        self.server = server
        self.settings = settings
        self.connection = Connection()
        self.publisher = DiagnosticsPublisher(self._publish)
        self._remote_by_token: dict[types.ProgressToken, RemoteRun] = {}
        self.active: set[asyncio.Task[Any]] = set()

    @property
    def workspace_root(self) -> str | None:
        try:
            workspace = self.server.workspace
        except RuntimeError:  # not initialized yet
            return None
        if workspace.root_path:
            return str(workspace.root_path)
        folders = list(workspace.folders.values())
        return to_fs_path(folders[0].uri) if folders else None

    def _key(self) -> ConnectionKey:
        return ConnectionKey(self.settings.endpoint, self.settings.timeout_s, self.settings.keys)

    def _publish(self, uri: str, diagnostics: list[types.Diagnostic]) -> None:
        self.server.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=uri, diagnostics=diagnostics)
        )

    def notify_status(self, state: str, **fields: Any) -> None:
        self.server.protocol.notify(
            STATUS, {"state": state, **{k: v for k, v in fields.items() if v is not None}}
        )

    # -- one-shot requests -----------------------------------------------------------

    async def ping(self) -> dict[str, Any]:
        async with self.connection.use(self._key()) as client:
            pong, rtt = await client.ping()
        return {
            "time": pong.time,
            "version": pong.version,
            "protocol": pong.protocol,
            "running": [dict(item) for item in pong.running],
            "queued": pong.queued,
            "rttMs": rtt * 1000,
            "connected": True,
        }

    async def cancel(self) -> list[str]:
        async with self.connection.use(self._key()) as client:
            return list(await client.cancel(None))

    async def envs(self) -> list[str]:
        chunks: list[bytes] = []
        async with (
            self.connection.use(self._key()) as client,
            client.run(["l"], env=dict(self.settings.env)) as remote,
        ):
            async for event in remote:
                if isinstance(event, protocol.Output) and event.stream is protocol.Stream.STDOUT:
                    chunks.append(event.data)
                elif isinstance(event, protocol.Exit) and event.code != 0:
                    raise ToxbridgeError(
                        f"`tox l` failed with exit code {event.code} on the server: "
                        "check the project's tox configuration"
                    )
        return parse_env_list(b"".join(chunks).decode(errors="replace"))

    def cancel_progress(self, token: types.ProgressToken) -> None:
        """`window/workDoneProgress/cancel`: ask the server to stop; the run then ends
        normally with `cancelled: true`."""
        remote = self._remote_by_token.get(token)
        if remote is not None:
            task = asyncio.create_task(remote.cancel())
            self.active.add(task)
            task.add_done_callback(self._forget)

    def _forget(self, task: asyncio.Task[Any]) -> None:
        self.active.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("cancelling through progress failed: %s", task.exception())

    # -- runs ------------------------------------------------------------------------------

    async def run(
        self,
        args: Sequence[str] | None,
        env: Mapping[str, str] | None,
        token: types.ProgressToken | None,
    ) -> RunResult:
        tox_args = list(self.settings.tox_args if args is None else args)
        run_env = {**self.settings.env, **(env or {})}
        progress = await RunProgress.open(self.server, token, " ".join(["tox", *tox_args]))
        relay = _Relay(self, progress)
        self.publisher.begin_run()
        try:
            async with self.connection.use(self._key()) as client:
                remote = client.run(tox_args, env=run_env)
                async with remote:
                    if progress.token is not None:
                        self._remote_by_token[progress.token] = remote
                    try:
                        return await relay.relay(remote)
                    except asyncio.CancelledError:
                        await _stop(remote, relay)
                        raise
        finally:
            await relay.close()
            self._remote_by_token = {
                k: v for k, v in self._remote_by_token.items() if v is not relay.remote
            }


async def _stop(remote: RemoteRun, relay: _Relay) -> None:
    """Cancel the remote run and wait until the server says it has ended."""
    with contextlib.suppress(ToxbridgeError, TimeoutError):
        async with asyncio.timeout(CANCEL_GRACE_S):
            await remote.cancel()
            await relay.drain(remote)


class _Relay:
    """The editor's view of one run: status, output batches, progress, diagnostics."""

    def __init__(self, session: Session, progress: RunProgress) -> None:
        self.session = session
        self.progress = progress
        self.batcher = OutputBatcher()
        self.parser: DiagnosticParser | None = None
        self.remote: RemoteRun | None = None
        self.run_id: str | None = None
        self.exit: protocol.Exit | None = None
        self.workspace = session.workspace_root
        self._ticker: asyncio.Task[None] | None = None

    async def relay(self, remote: RemoteRun) -> RunResult:
        self.remote = remote
        self.run_id = remote.id
        self._ticker = asyncio.create_task(self._tick())
        async for event in remote:
            self.handle(event)
        assert remote.result is not None  # noqa: S101 - the loop ends only at the exit
        return self._result(remote.result)

    async def drain(self, remote: RemoteRun) -> None:
        async for event in remote:
            self.handle(event)

    def handle(self, event: RunEvent) -> None:
        match event:
            case protocol.Output(stream=stream, data=data):
                self.batcher.feed(stream.value, data)
                if self.parser is not None and stream is protocol.Stream.STDOUT:
                    self.session.publisher.add(self.parser.feed(data), self.workspace)
            case protocol.Queued(position=position):
                self.session.notify_status("queued", runId=self.run_id, position=position)
                self.progress.report(f"queued, {position} run(s) ahead")
            case protocol.Started(cwd=cwd):
                self.parser = DiagnosticParser(self._mapper(cwd))
                self.session.notify_status("running", runId=self.run_id)
                self.progress.report("running")
            case protocol.Exit():
                self.exit = event
                if self.parser is not None:
                    self.session.publisher.add(self.parser.close(), self.workspace)

    def _mapper(self, cwd: str) -> PathMapper:
        explicit = self.session.settings.path_mappings
        if explicit:
            pairs = [(item.container, item.local) for item in explicit]
        elif self.workspace is not None:
            pairs = [(cwd, self.workspace)]
        else:
            pairs = []
        return PathMapper(mappings=pairs, root=cwd)

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_INTERVAL_S)
            self._flush(final=False)

    def _flush(self, *, final: bool) -> None:
        for batch in self.batcher.flush(final=final):
            self.session.server.protocol.notify(
                OUTPUT, {"runId": self.run_id, "stream": batch.stream, "text": batch.text}
            )
        if self.parser is not None and not final:
            status = self.parser.status
            self.progress.report(
                status_message(status.env, status.passed, status.failed), status.percent
            )

    def _result(self, exit: protocol.Exit) -> RunResult:
        return RunResult(exit.code, exit.cancelled, exit.duration_s, self.session.publisher.count)

    async def close(self) -> None:
        """Always runs: final output, the end of progress and status, stale diagnostics."""
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        self._flush(final=True)
        self.session.publisher.end_run(complete=self.exit is not None and not self.exit.cancelled)
        if self.exit is None:  # the request failed or was cancelled before the exit
            self.progress.end("tox did not finish")
            self.session.notify_status("idle", runId=self.run_id)
            return
        outcome = "cancelled" if self.exit.cancelled else f"exit code {self.exit.code}"
        failures = self.session.publisher.count
        self.progress.end(f"{outcome}, {failures} problem(s) in {self.exit.duration_s:.1f}s")
        self.session.notify_status(
            "finished",
            runId=self.run_id,
            exitCode=self.exit.code,
            cancelled=self.exit.cancelled,
            env=self.parser.status.env if self.parser is not None else None,
        )
