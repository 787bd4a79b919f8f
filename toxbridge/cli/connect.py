"""Where a command-line client connects, from its options, the environment and the
project's `[tool.toxbridge]` (found from the current directory upwards)."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from toxbridge.config import (
    Endpoint,
    ProjectConfig,
    project_config,
    resolve_endpoint,
    resolve_keys,
    resolve_timeout,
)

if TYPE_CHECKING:
    from toxbridge.net.client import Client


@dataclass(frozen=True, slots=True)
class Connection:
    endpoint: Endpoint
    keys: str | None
    timeout: float
    project: ProjectConfig


def connection(args: argparse.Namespace) -> Connection:
    """Resolve every connection setting once; a bad one is a `ConfigError`."""
    project = project_config(Path.cwd())
    return Connection(
        endpoint=resolve_endpoint(args, os.environ, server=False, project=project),
        keys=resolve_keys(args, os.environ, project),
        timeout=resolve_timeout(args, project),
        project=project,
    )


def open_client(settings: Connection, *, liveness_s: float | None = None) -> Client:
    """A `Client` for `settings`, not yet entered."""
    from toxbridge.net.auth import client_keys_from
    from toxbridge.net.client import Client

    # resolve_keys has read TOXBRIDGE_KEYS already: None here means no keys at all
    keys = client_keys_from(settings.keys) if settings.keys else None
    if liveness_s is None:
        return Client(settings.endpoint, timeout=settings.timeout, keys=keys)
    return Client(settings.endpoint, timeout=settings.timeout, keys=keys, liveness_s=liveness_s)
