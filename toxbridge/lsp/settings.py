"""The bridge's settings and where they come from. Pure: no pygls, no I/O but reading
the workspace's pyproject.toml.

Precedence, highest first: initializationOptions / workspace/didChangeConfiguration,
`[tool.toxbridge]` in the workspace's pyproject.toml, the command line's endpoint options,
the `TOXBRIDGE_*` environment variables, defaults. Each layer only sets what it names.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from toxbridge.config import (
    DEFAULT_TIMEOUT_S,
    PYPROJECT,
    anchored,
    check_endpoint,
    check_env,
    check_number,
    check_string,
    normal_key,
    read_tool_table,
    resolve_endpoint,
)
from toxbridge.errors import ConfigError

log = logging.getLogger(__name__)

DEFAULT_GLOB = "**/*.py"
DEFAULT_DEBOUNCE_MS = 300


@dataclass(frozen=True, slots=True)
class PathMapping:
    """A container path prefix and the local path it is mounted at."""

    container: str
    local: str


@dataclass(frozen=True, slots=True)
class Settings:
    endpoint: str
    tox_args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    run_on_save: bool = False
    run_on_save_glob: str = DEFAULT_GLOB
    run_on_save_args: tuple[str, ...] | None = None  # None: the same as tox_args
    debounce_ms: float = DEFAULT_DEBOUNCE_MS
    path_mappings: tuple[PathMapping, ...] = ()
    keys: str | None = None
    timeout_s: float = DEFAULT_TIMEOUT_S
    test_envs: tuple[str, ...] = ()  # empty: tox's env_list
    watch: bool = True  # show runs started elsewhere (a terminal) too
    code_lens: bool = True

    @property
    def save_args(self) -> tuple[str, ...]:
        return self.tox_args if self.run_on_save_args is None else self.run_on_save_args


def _strings(value: Any, name: str) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise ConfigError(f"toxbridge setting {name!r} must be a list of strings")
    if not all(isinstance(item, str) for item in value):
        raise ConfigError(f"toxbridge setting {name!r} must be a list of strings")
    return tuple(value)


def _mappings(value: Any, name: str) -> tuple[PathMapping, ...]:
    if isinstance(value, Mapping):  # pyproject's natural form: {container = local}
        value = [{"container": k, "local": v} for k, v in value.items()]
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise ConfigError(f"toxbridge setting {name!r} must be a list of {{container, local}}")
    result = []
    for item in value:
        if not (
            isinstance(item, Mapping)
            and isinstance(item.get("container"), str)
            and isinstance(item.get("local"), str)
        ):
            raise ConfigError(f"toxbridge setting {name!r}: each entry needs container and local")
        result.append(PathMapping(item["container"], item["local"]))
    return tuple(result)


def _boolean(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"toxbridge setting {name!r} must be true or false")
    return value


_FIELDS: dict[str, tuple[str, Any]] = {
    "endpoint": ("endpoint", check_endpoint),
    "toxargs": ("tox_args", _strings),
    "env": ("env", check_env),
    "runonsave": ("run_on_save", _boolean),
    "runonsaveglob": ("run_on_save_glob", check_string),
    "runonsaveargs": ("run_on_save_args", _strings),
    "debouncems": ("debounce_ms", lambda v, n: check_number(v, n, 0)),
    "pathmappings": ("path_mappings", _mappings),
    "keys": ("keys", check_string),
    "timeouts": ("timeout_s", lambda v, n: check_number(v, n, 0.001)),
    "testenvs": ("test_envs", _strings),
    "watch": ("watch", _boolean),
    "codelens": ("code_lens", _boolean),
}


def overlay(base: Settings, layer: Mapping[str, Any] | None) -> Settings:
    """`base` with what `layer` names; unknown keys are ignored (newer editors may send
    more), nulls mean "not set", and a wrong type is a `ConfigError` naming the key."""
    if not layer:
        return base
    changes: dict[str, Any] = {}
    for key, value in layer.items():
        spec = _FIELDS.get(normal_key(key))
        if spec is None:
            log.debug("ignoring unknown setting %r", key)
        elif value is not None:
            attribute, parse = spec
            changes[attribute] = parse(value, key)
    return replace(base, **changes)


def editor_layer(settings: Any) -> Mapping[str, Any] | None:
    """The toxbridge object in initializationOptions or didChangeConfiguration's settings:
    either under a `toxbridge` key or the object itself."""
    if not isinstance(settings, Mapping):
        return None
    inner = settings.get("toxbridge")
    return inner if isinstance(inner, Mapping) else settings


def pyproject_layer(folder: str | None) -> Mapping[str, Any] | None:
    """`[tool.toxbridge]` of the workspace's pyproject.toml, if there is one; a relative
    `keys` or `ipc://` path is relative to that folder, as it is for the CLI."""
    if folder is None:
        return None
    table = read_tool_table(Path(folder) / PYPROJECT)
    return None if table is None else anchored(table, Path(folder))


def base_settings(args: argparse.Namespace, environ: Mapping[str, str]) -> Settings:
    """Defaults, overlaid with the environment and the command line."""
    endpoint = resolve_endpoint(args, environ, server=False)
    timeout = getattr(args, "timeout", None) or DEFAULT_TIMEOUT_S
    return Settings(
        endpoint=str(endpoint), timeout_s=float(timeout), keys=getattr(args, "keys", None)
    )


def resolve(
    base: Settings,
    folder: str | None,
    editor: Mapping[str, Any] | None,
) -> Settings:
    return overlay(overlay(base, pyproject_layer(folder)), editor)
