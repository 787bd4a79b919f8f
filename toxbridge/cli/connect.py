"""Where a command-line client connects, from its options, the environment and the
project's `[tool.toxbridge]` (found from the current directory upwards)."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from toxbridge.config import (
    DEFAULT_LIVENESS_S,
    Endpoint,
    ProjectConfig,
    project_config,
    resolve_endpoint,
    resolve_keys,
    resolve_timeout,
)

if TYPE_CHECKING:
    from toxbridge.net.client import Client
    from toxbridge.wire import protocol


@dataclass(frozen=True, slots=True)
class Connection:
    endpoint: Endpoint
    keys: str | None
    timeout: float
    project: ProjectConfig


def connection(args: argparse.Namespace) -> Connection:
    """Resolve every connection setting once; a bad one is a `ConfigError`."""
    project = project_config(os.getcwd())
    return Connection(
        endpoint=resolve_endpoint(args, os.environ, server=False, project=project),
        keys=resolve_keys(args, os.environ, project),
        timeout=resolve_timeout(args, project),
        project=project,
    )


def open_client(
    settings: Connection, *, liveness_s: float = DEFAULT_LIVENESS_S, name: str | None = None
) -> Client:
    """A `Client` for `settings`, not yet entered; `name` says who it is in other clients'
    messages (such as "toxbridge run")."""
    from toxbridge.net.auth import client_keys_from
    from toxbridge.net.client import Client

    # resolve_keys has read TOXBRIDGE_KEYS already: None here means no keys at all
    keys = client_keys_from(settings.keys) if settings.keys else None
    return Client(
        settings.endpoint, timeout=settings.timeout, keys=keys, liveness_s=liveness_s, name=name
    )


def one_request(settings: Connection, message: protocol.Request) -> tuple[protocol.Reply, float]:
    """`message`'s reply and round trip, over a plain socket (no asyncio): see net.oneshot."""
    from toxbridge.net.oneshot import request

    keys = None
    if settings.keys:
        from toxbridge.net.auth import client_keys_from

        keys = client_keys_from(settings.keys)
    return request(settings.endpoint, message, timeout=settings.timeout, keys=keys)
