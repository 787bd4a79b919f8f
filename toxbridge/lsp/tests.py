"""Tests in the editor: discovery (a collect-only run per env through the server), runs of
selected tests (one tox run per env), and code lenses.

Which envs: the `testEnvs` setting, else tox's `env_list` (`tox l` through the server,
asked once per bridge). An id is `ENV|KEY` (lsp/testing/tree.py), or `ENV` for an env.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pygls.uris import to_fs_path

from toxbridge.diagnostics.exact import ExactResults, PathResolver
from toxbridge.errors import ToxbridgeError
from toxbridge.lsp.messages import PlainJson
from toxbridge.lsp.publish import path_to_uri
from toxbridge.lsp.relay import path_mapper
from toxbridge.lsp.testing.discovery import Discovery, discover, discovery_json
from toxbridge.lsp.testing.lenses import Lens, file_lenses
from toxbridge.lsp.testing.scan import scan_source
from toxbridge.lsp.testing.store import COLLECT, Owner
from toxbridge.lsp.testing.tree import (
    SEPARATOR,
    CollectionError,
    fewest,
    pytest_args,
    split_id,
)
from toxbridge.reporter import events
from toxbridge.wire import protocol

if TYPE_CHECKING:
    from toxbridge.lsp.session import RunResult, Session

log = logging.getLogger(__name__)

COLLECT_ARGS = ("--collect-only", "-q")
TAIL_BYTES = 2048


def split_ids(ids: Sequence[str], env: str | None = None) -> dict[str, list[str]]:
    """Test ids → {env: keys}, in the order first named; a bare name is an env (its key
    ""), or with `env` given, a key in that env."""
    selected: dict[str, list[str]] = {}
    for test_id in ids:
        if SEPARATOR in test_id:
            test_env, key = split_id(test_id)
        elif env is not None and test_id:
            test_env, key = env, test_id
        else:
            test_env, key = test_id, ""
        selected.setdefault(test_env, []).append(key)
    return selected


def tox_args(env: str, keys: Sequence[str], rootdir: str | None) -> list[str]:
    """`-e ENV -- <node ids>`: absolute in the container when pytest's rootdir is known
    (pytest takes them from any directory), else relative to the tox root."""
    keys = fewest(keys)
    posargs = pytest_args(keys, rootdir) if rootdir else [key for key in keys if key]
    return ["-e", env, *(["--", *posargs] if posargs else [])]


class OutputTail:
    """The last TAIL_BYTES of a run's output, for an error message."""

    def __init__(self) -> None:
        self._data = bytearray()

    def feed(self, data: bytes) -> None:
        self._data += data
        del self._data[:-TAIL_BYTES]

    def text(self) -> str:
        return self._data.decode(errors="replace").strip()


class Tests:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.discovered: dict[str, Discovery] = {}
        self._env_list: asyncio.Task[list[str]] | None = None
        self._uris: dict[str, str] = {}  # a local path's uri, one per file of the project

    async def envs(self) -> list[str]:
        """`testEnvs`, else the server's `tox l`: asked once and shared by every request
        that needs it meanwhile (an editor asks for many files' lenses at once, and cancels
        the stale ones: that must not cancel the `tox l` the others wait for)."""
        configured = self.session.settings.test_envs
        if configured:
            return list(configured)
        if self._env_list is None:
            self._env_list = asyncio.create_task(self.session.envs())
        listing = self._env_list
        try:
            return list(await asyncio.shield(listing))
        finally:
            failed = listing.done() and (listing.cancelled() or listing.exception() is not None)
            if failed and self._env_list is listing:
                self._env_list = None  # the next request asks again

    def forget_envs(self) -> None:
        """The tox configuration changed: ask the server again next time."""
        self._env_list = None

    def uri(self, path: str) -> str:
        # a tree has as many paths as tests, in a few files: each file's uri is made once
        uri = self._uris.get(path)
        if uri is None:
            uri = self._uris[path] = path_to_uri(path, self.session.workspace_root)
        return uri

    # -- discovery ------------------------------------------------------------------------

    async def discover(self, env: str | None, refresh: bool) -> PlainJson:
        envs = [env] if env else await self.envs()
        found = []
        for name in envs:
            if refresh or name not in self.discovered:
                self.discovered[name] = await self._collect(name)
            found.append(discovery_json(self.discovered[name], self.uri))
        return PlainJson(envs=found)

    async def _collect(self, env: str) -> Discovery:
        session = self.session
        args = ["-e", env, "--", *COLLECT_ARGS]
        records: list[events.Record] = []
        cwd: str | None = None
        tail = OutputTail()
        code = 0
        async with session.connection.use(session.key()) as client:
            remote = client.run(args, env=dict(session.settings.env), events=True)
            session.own(remote.id)
            async with remote:
                async for event in remote:
                    if isinstance(event, protocol.Started):
                        cwd = event.cwd
                        if not event.events:
                            raise ToxbridgeError(
                                "discovery needs test events, which the server does not "
                                "send: start `toxbridge serve` without --no-test-events"
                            )
                    elif isinstance(event, protocol.Test):
                        records.extend(r for r in event.records() if not isinstance(r, Exception))
                    elif isinstance(event, protocol.Output):
                        tail.feed(event.data)
                    elif isinstance(event, protocol.Exit):
                        code = event.code
        resolver = self._resolver(cwd or "")
        discovery = discover(env, records, resolver)
        if code != 0 and not any(isinstance(r, events.Session) for r in records):
            # tox failed before pytest started (an unknown env, its install failed, ...)
            text = f"tox -e {env} exited with code {code} before pytest collected:\n{tail.text()}"
            discovery.errors.append(CollectionError("", None, None, text))
        self._collection_diagnostics(records, resolver)
        return discovery

    def _resolver(self, cwd: str) -> PathResolver:
        workspace = self.session.workspace_root
        mapper = path_mapper(self.session.settings, workspace, cwd)
        return PathResolver(mapper, workspace, os.path.isfile, mapper.local_roots)

    def _collection_diagnostics(self, records: list[events.Record], resolver: PathResolver) -> None:
        """A collection error found while discovering is a diagnostic like a run's."""
        changes = {
            Owner(r.env, COLLECT, r.nodeid): r.diagnostics()
            for r in ExactResults(resolver).feed(records)
            if r.kind == COLLECT
        }
        self.session.diagnostics.replace(changes, self.session.workspace_root)

    # -- runs -------------------------------------------------------------------------------

    async def run(self, ids: Sequence[str], env: str | None, token: Any) -> dict[str, Any]:
        """One tox run per env, one after the other; a cancelled one ends the rest."""
        runs = []
        for test_env, keys in split_ids(ids, env).items():
            known = self.discovered.get(test_env)
            args = tox_args(test_env, keys, known.rootdir if known else None)
            enqueued = [i for i in ids if test_env in split_ids([i], env)]
            result: RunResult = await self.session.run(
                args, None, token, "tests", enqueued=enqueued
            )
            runs.append({"runId": result.run_id, "env": test_env, **result.to_json()})
            if result.cancelled:
                break
        return {"runs": runs}

    async def run_file(self, uri: str, env: str | None, token: Any) -> dict[str, Any]:
        key = self.file_key(uri)
        envs = [env] if env else self._envs_with(key) or (await self.envs())[:1]
        return await self.run([f"{name}{SEPARATOR}{key}" for name in envs], None, token)

    def file_key(self, uri: str) -> str:
        path = Path(to_fs_path(uri) or uri)
        root = self.session.workspace_root
        if root is not None and path.is_relative_to(root):
            return path.relative_to(root).as_posix()
        return path.as_posix()

    def _envs_with(self, file_key: str) -> list[str]:
        return [env for env, d in self.discovered.items() if d.file_node(file_key) is not None]

    # -- code lenses ------------------------------------------------------------------------

    async def lenses(self, uri: str) -> list[Lens]:
        if not self.session.settings.code_lens:
            return []
        key = self.file_key(uri)
        envs = self._envs_with(key)
        if envs:
            tests = self.discovered[envs[0]].scanned(key)
            env = envs[0]
        else:
            try:
                names = await self.envs()
            except ToxbridgeError as error:
                log.info("no env for code lenses: %s", error)
                return []
            if not names:
                return []
            env = names[0]
            path = Path(to_fs_path(uri) or uri)
            try:
                source = await asyncio.to_thread(path.read_text, errors="replace")
            except OSError:
                return []
            tests = scan_source(source, key)
        prefix = f"{env}{SEPARATOR}"
        results = {
            test_id[len(prefix) :]: result
            for test_id, result in self.session.last_results.items()
            if test_id.startswith(prefix)
        }
        return file_lenses(uri, env, tests, results)
