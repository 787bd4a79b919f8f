"""The bridge's connection to the toxbridge server, shared by all requests.

ZMQ reconnects by itself, so a server that restarts is reached again by the next
request. A new `Client` is only made when the endpoint or timeout settings change; the
old one is closed once the runs that use it have ended.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from toxbridge.config import DEFAULT_LIVENESS_S, parse_endpoint
from toxbridge.net.auth import client_keys_from
from toxbridge.net.client import Client

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ConnectionKey:
    endpoint: str
    timeout_s: float
    keys: str | None = None  # a `toxbridge keygen` directory; None: TOXBRIDGE_KEYS or none


class _Open:
    __slots__ = ("client", "key", "users")

    def __init__(self, key: ConnectionKey, client: Client) -> None:
        self.key = key
        self.client = client
        self.users = 0


class Connection:
    def __init__(self) -> None:
        self._current: _Open | None = None
        self._retired: list[_Open] = []

    @contextlib.asynccontextmanager
    async def use(self, key: ConnectionKey) -> AsyncIterator[Client]:
        """The client for `key`, kept open at least until the `async with` ends."""
        if self._current is None or self._current.key != key:
            if self._current is not None:
                self._retired.append(self._current)
            client = Client(
                parse_endpoint(key.endpoint),
                timeout=key.timeout_s,
                liveness_s=max(DEFAULT_LIVENESS_S, key.timeout_s),
                keys=client_keys_from(key.keys),
            )
            await client.__aenter__()
            log.info("connecting to %s", key.endpoint)
            self._current = _Open(key, client)
        current = self._current
        current.users += 1
        try:
            yield current.client
        finally:
            current.users -= 1
            await self._close_retired()

    async def _close_retired(self) -> None:
        for item in [item for item in self._retired if item.users == 0]:
            self._retired.remove(item)
            await item.client.__aexit__(None, None, None)

    async def close(self) -> None:
        if self._current is not None:
            self._retired.append(self._current)
            self._current = None
        for item in self._retired:
            item.users = 0
        await self._close_retired()
