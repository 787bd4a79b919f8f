"""Runs through the bridge: one `Session` per editor connection.

A run asks the server for test events and relays everything to the editor (lsp/relay.py).
Cancelling the task that executes a run (`$/cancelRequest`, or a newer run-on-save)
cancels the remote run and waits, briefly, for the server to confirm that tox's process
tree is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from toxbridge.errors import ToxbridgeError
from toxbridge.lsp.connection import Connection, ConnectionKey
from toxbridge.lsp.messages import STATUS
from toxbridge.lsp.progress import RunProgress
from toxbridge.lsp.publish import BridgeDiagnostics
from toxbridge.lsp.relay import Relay
from toxbridge.lsp.settings import Settings
from toxbridge.lsp.testing.lenses import LastResult
from toxbridge.net.client import RemoteRun
from toxbridge.wire import protocol

log = logging.getLogger(__name__)

MAX_OWN_RUNS = 4096
CANCEL_GRACE_S = 10.0  # how long a cancelled request waits for tox's tree to be gone
_ENV_LINE = re.compile(r"^([^\s:]+)(?:\s+->.*)?$")


@dataclass(frozen=True, slots=True)
class RunResult:
    exit_code: int
    cancelled: bool
    duration_s: float
    diagnostics: int
    run_id: str = ""

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


class Session:
    def __init__(self, server: LanguageServer, settings: Settings) -> None:
        self.server = server
        self.settings = settings
        self.connection = Connection()
        self.diagnostics = BridgeDiagnostics(self._publish)
        self.last_results: dict[str, LastResult] = {}  # test id → its latest result
        self.own_runs: OrderedDict[str, None] = OrderedDict()  # this bridge's, for the watch
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

    def key(self) -> ConnectionKey:
        return ConnectionKey(self.settings.endpoint, self.settings.timeout_s, self.settings.keys)

    def _publish(self, uri: str, diagnostics: list[types.Diagnostic]) -> None:
        self.server.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=uri, diagnostics=diagnostics)
        )

    def results_changed(self, entries: list[dict[str, Any]]) -> None:
        """`tox/testResults` entries went out: remember each test's last outcome."""
        for entry in entries:
            if entry["state"] in ("passed", "failed", "errored", "skipped"):
                duration = entry.get("durationMs")
                seconds = duration / 1000 if duration is not None else None
                self.last_results[entry["id"]] = LastResult(entry["state"], seconds)

    def _own_run(self, remote: RemoteRun) -> RemoteRun:
        self.own(remote.id)
        return remote

    def own(self, run_id: str) -> None:
        """A run this bridge started: the watch leaves it to the request's own relay."""
        self.own_runs[run_id] = None
        while len(self.own_runs) > MAX_OWN_RUNS:
            self.own_runs.popitem(last=False)

    def refresh_lenses(self) -> None:
        """Results changed: `workspace/codeLens/refresh`, where the client supports it."""
        workspace = self.server.client_capabilities.workspace
        lens = workspace.code_lens if workspace is not None else None
        if self.settings.code_lens and lens is not None and lens.refresh_support:
            self.server.workspace_code_lens_refresh(None)

    def notify_status(self, state: str, **fields: Any) -> None:
        self.server.protocol.notify(
            STATUS, {"state": state, **{k: v for k, v in fields.items() if v is not None}}
        )

    # -- one-shot requests -----------------------------------------------------------

    async def ping(self) -> dict[str, Any]:
        async with self.connection.use(self.key()) as client:
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
        async with self.connection.use(self.key()) as client:
            return list(await client.cancel(None))

    async def envs(self) -> list[str]:
        chunks: list[bytes] = []
        async with (
            self.connection.use(self.key()) as client,
            self._own_run(client.run(["l"], env=dict(self.settings.env))) as remote,
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
        origin: str = "run",
        *,
        enqueued: Sequence[str] = (),
    ) -> RunResult:
        tox_args = list(self.settings.tox_args if args is None else args)
        run_env = {**self.settings.env, **(env or {})}
        progress = await RunProgress.open(self.server, token, " ".join(["tox", *tox_args]))
        relay = Relay(self, progress, origin=origin, args=tox_args, enqueued=enqueued)
        try:
            async with self.connection.use(self.key()) as client:
                remote = client.run(tox_args, env=run_env, events=True)
                self.own(remote.id)
                async with remote:
                    if progress.token is not None:
                        self._remote_by_token[progress.token] = remote
                    try:
                        end = await relay.relay(remote)
                        count = relay.count
                        return RunResult(end.code, end.cancelled, end.duration_s, count, remote.id)
                    except asyncio.CancelledError:
                        await _stop(remote, relay)
                        raise
        finally:
            await relay.close()
            self._remote_by_token = {
                k: v for k, v in self._remote_by_token.items() if v is not relay.remote
            }


async def _stop(remote: RemoteRun, relay: Relay) -> None:
    """Cancel the remote run and wait until the server says it has ended."""
    with contextlib.suppress(ToxbridgeError, TimeoutError):
        async with asyncio.timeout(CANCEL_GRACE_S):
            await remote.cancel()
            await relay.drain(remote)
