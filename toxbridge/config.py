"""Where the server listens and where clients connect, and what a project configures.

Precedence, highest first: command-line option, `TOXBRIDGE_*` variable, the seed
project's `TOX_SERVER_*` variable (so tox-server users can switch), `[tool.toxbridge]`
in the project's pyproject.toml (clients only), default. Within one layer a whole
endpoint beats host and port; a host or port from a higher layer beats a lower layer's
endpoint. Pure but for reading pyproject.toml: the CLI and the LSP bridge share it.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from toxbridge.errors import ConfigError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9876
DEFAULT_TIMEOUT_S = 5.0
DEFAULT_LIVENESS_S = 10.0


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A ZMQ endpoint such as `tcp://127.0.0.1:9876` or `ipc:///run/toxbridge.sock`."""

    url: str

    @property
    def transport(self) -> str:
        return self.url.partition("://")[0]

    @property
    def host(self) -> str | None:
        if self.transport != "tcp":
            return None
        host = self.url.partition("://")[2].rpartition(":")[0]
        return host.strip("[]")

    def is_private(self) -> bool:
        """True when only this machine can reach it: loopback TCP, ipc or inproc."""
        if self.transport in ("ipc", "inproc"):
            return True
        host = self.host or ""
        if host == "localhost":
            return True
        import ipaddress  # only the server asks

        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False

    def __str__(self) -> str:
        return self.url


def parse_endpoint(url: str) -> Endpoint:
    transport, sep, rest = url.partition("://")
    if not sep or transport not in ("tcp", "ipc", "inproc") or not rest:
        raise ConfigError(
            f"bad endpoint {url!r}: expected tcp://HOST:PORT, ipc:///path/to/socket "
            "or inproc://name"
        )
    if transport == "tcp":
        _, colon, port = rest.rpartition(":")
        if not colon or not (port.isdigit() or port == "*"):
            raise ConfigError(f"bad endpoint {url!r}: a tcp endpoint needs a port")
    return Endpoint(url)


def tcp_endpoint(host: str, port: int) -> Endpoint:
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # IPv6 literal
    return Endpoint(f"tcp://{host}:{port}")


def _port(value: str | int | None, source: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        port = int(value)
    except ValueError:
        raise ConfigError(f"{source}: port must be a number, got {value!r}") from None
    if not 0 < port < 65536:
        raise ConfigError(f"{source}: port {port} is out of range 1-65535")
    return port


# -- [tool.toxbridge] in pyproject.toml ------------------------------------------------

PYPROJECT = "pyproject.toml"


def normal_key(key: str) -> str:
    """pyproject users write kebab- or snake_case, editors camelCase: accept all three."""
    return key.replace("-", "").replace("_", "").lower()


def read_tool_table(path: str | os.PathLike[str]) -> Mapping[str, Any] | None:
    """`[tool.toxbridge]` of the pyproject.toml at `path`; None if the file or the table
    is absent. A file that cannot be read or parsed is a `ConfigError` naming it."""
    try:
        with open(path, "rb") as stream:
            text = stream.read()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error}") from None
    import tomllib  # only where there is a file to parse

    try:
        data = tomllib.loads(text.decode())
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"cannot read {path}: {error}") from None
    tool = data.get("tool")
    section = tool.get("toxbridge") if isinstance(tool, Mapping) else None
    return section if isinstance(section, Mapping) else None


def find_project(start: str | os.PathLike[str]) -> tuple[str, Mapping[str, Any]] | None:
    """The nearest pyproject.toml at or above `start` that has a `[tool.toxbridge]` table
    (as tox and ruff look for their own tables), with that table."""
    folder = os.path.abspath(start)
    while True:
        path = os.path.join(folder, PYPROJECT)
        table = read_tool_table(path)
        if table is not None:
            return path, table
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent


def anchored(table: Mapping[str, Any], folder: str | os.PathLike[str]) -> dict[str, Any]:
    """`table` with a relative `keys` directory and a relative `ipc://` socket path made
    absolute against `folder` (the pyproject's), whatever directory reads it."""
    result = dict(table)
    for key, value in table.items():
        name = normal_key(key)
        if name == "keys" and isinstance(value, str) and value:
            result[key] = os.path.join(folder, os.path.expanduser(value))
        elif name == "endpoint" and isinstance(value, str) and value.startswith("ipc://"):
            socket = value.removeprefix("ipc://")
            if socket and not socket.startswith("/"):
                result[key] = f"ipc://{os.path.join(folder, socket)}"
    return result


def check_string(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"toxbridge setting {name!r} must be a string")
    return value


def check_number(value: Any, name: str, minimum: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
        raise ConfigError(f"toxbridge setting {name!r} must be a number >= {minimum:g}")
    return float(value)


def check_env(value: Any, name: str) -> dict[str, str]:
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ConfigError(f"toxbridge setting {name!r} must map names to strings")
    return dict(value)


def check_endpoint(value: Any, name: str) -> str:
    return str(parse_endpoint(check_string(value, name)))


@dataclass(frozen=True, slots=True)
class ProjectConfig:
    """What a command-line client takes from `[tool.toxbridge]`; the bridge reads more."""

    path: str | None = None  # the pyproject.toml it came from
    endpoint: str | None = None
    keys: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    timeout_s: float | None = None


def project_config(start: str | os.PathLike[str]) -> ProjectConfig:
    """The client settings of the project at or above `start` (none: all unset).
    Keys only the bridge uses are ignored here; a bad value names the file and key."""
    found = find_project(start)
    if found is None:
        return ProjectConfig()
    path, table = found
    values: dict[str, Any] = {}
    try:
        for key, value in anchored(table, os.path.dirname(path)).items():
            name = normal_key(key)
            if value is None:
                continue
            if name == "endpoint":
                values["endpoint"] = check_endpoint(value, key)
            elif name == "keys":
                values["keys"] = check_string(value, key)
            elif name == "env":
                values["env"] = check_env(value, key)
            elif name == "timeouts":
                values["timeout_s"] = check_number(value, key, 0.001)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None
    return ProjectConfig(path, **values)


# -- resolving each setting through the layers -----------------------------------------


def resolve_endpoint(
    args: argparse.Namespace,
    environ: Mapping[str, str] | None = None,
    *,
    server: bool,
    project: ProjectConfig | None = None,
) -> Endpoint:
    """The endpoint that `args` (from `add_endpoint_options`), the environment and the
    project name: see the module's docstring for the order."""
    env = os.environ if environ is None else environ
    if server:
        hosts = [getattr(args, "bind", None), env.get("TOXBRIDGE_BIND")]
        hosts.append(env.get("TOX_SERVER_BIND_HOST"))
    else:
        hosts = [getattr(args, "host", None), env.get("TOXBRIDGE_HOST"), None]
    layers = (
        (getattr(args, "endpoint", None), hosts[0], (getattr(args, "port", None), "-p/--port")),
        (env.get("TOXBRIDGE_ENDPOINT"), hosts[1], (env.get("TOXBRIDGE_PORT"), "TOXBRIDGE_PORT")),
        (None, hosts[2], (env.get("TOX_SERVER_PORT"), "TOX_SERVER_PORT")),
        (project.endpoint if project and not server else None, None, (None, "")),
    )
    host: str | None = None
    port: int | None = None
    for url, layer_host, (layer_port, source) in layers:
        if url and host is None and port is None:
            return parse_endpoint(url)
        host = host or layer_host or None
        port = port or _port(layer_port, source)
    return tcp_endpoint(host or DEFAULT_HOST, port or DEFAULT_PORT)


def resolve_keys(
    args: argparse.Namespace, environ: Mapping[str, str], project: ProjectConfig | None = None
) -> str | None:
    """The CURVE key directory: --keys, TOXBRIDGE_KEYS, the project's `keys`, or none."""
    option = getattr(args, "keys", None)
    return option or environ.get("TOXBRIDGE_KEYS") or (project.keys if project else None)


def resolve_timeout(args: argparse.Namespace, project: ProjectConfig | None = None) -> float:
    option = getattr(args, "timeout", None)
    if option is not None:
        return float(option)
    if project is not None and project.timeout_s is not None:
        return project.timeout_s
    return DEFAULT_TIMEOUT_S


# -- the options themselves ------------------------------------------------------------


def add_endpoint_options(
    parser: argparse.ArgumentParser, *, server: bool, short: bool = True
) -> None:
    """Host, port, endpoint and keys (and a client's timeout) on `parser`.

    Defaults are suppressed, so that the same options given before the subcommand
    (`toxbridge -p 9000 ping`) are not overwritten by a subcommand that left them out;
    read them with `getattr(args, name, None)` or the `resolve_*` functions. `short=False`
    leaves out `-H`/`-b`/`-p`: after `toxbridge run`, short options are tox's.
    """
    group = parser.add_argument_group("where the server is" if not server else "where to listen")
    suppress = argparse.SUPPRESS

    def names(short_name: str, long_name: str) -> list[str]:
        return [short_name, long_name] if short else [long_name]

    if server:
        group.add_argument(
            *names("-b", "--bind"),
            metavar="HOST",
            default=suppress,
            help=f"address to bind (env TOXBRIDGE_BIND, TOX_SERVER_BIND_HOST; "
            f"default {DEFAULT_HOST})",
        )
    else:
        group.add_argument(
            *names("-H", "--host"),
            metavar="HOST",
            default=suppress,
            help=f"server host (env TOXBRIDGE_HOST; default {DEFAULT_HOST})",
        )
    group.add_argument(
        *names("-p", "--port"),
        metavar="PORT",
        default=suppress,
        help=f"TCP port (env TOXBRIDGE_PORT, TOX_SERVER_PORT; default {DEFAULT_PORT})",
    )
    group.add_argument(
        "--endpoint",
        metavar="URL",
        default=suppress,
        help="whole ZMQ endpoint instead of host and port: tcp://HOST:PORT or "
        "ipc:///path/to/socket (env TOXBRIDGE_ENDPOINT"
        f"{'' if server else '; pyproject `endpoint`'})",
    )
    keys_help = (
        "the server needs server.key_secret and authorized/"
        if server
        else "pyproject `keys`; a client needs server.key and client.key_secret"
    )
    group.add_argument(
        "--keys",
        metavar="DIR",
        default=suppress,
        help=f"CURVE keys from `toxbridge keygen` (env TOXBRIDGE_KEYS; {keys_help})",
    )
    if not server:
        group.add_argument(
            "--timeout",
            type=float,
            default=suppress,
            metavar="SECONDS",
            help="how long to wait for the server to answer "
            f"(pyproject `timeout-s`; default {DEFAULT_TIMEOUT_S:g})",
        )
