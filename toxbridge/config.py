"""Where the server listens and where clients connect: options, environment, defaults.

Precedence, highest first: command-line option, `TOXBRIDGE_*` variable, the seed
project's `TOX_SERVER_*` variable (so tox-server users can switch), default.
A whole `--endpoint` / `TOXBRIDGE_ENDPOINT` beats host and port.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass

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


def resolve_endpoint(
    args: argparse.Namespace, environ: Mapping[str, str] | None = None, *, server: bool
) -> Endpoint:
    """The endpoint that `args` (from `add_endpoint_options`) and the environment name."""
    env = os.environ if environ is None else environ
    url = args.endpoint or env.get("TOXBRIDGE_ENDPOINT")
    if url:
        return parse_endpoint(url)
    if server:
        host = args.bind or env.get("TOXBRIDGE_BIND") or env.get("TOX_SERVER_BIND_HOST")
    else:
        host = args.host or env.get("TOXBRIDGE_HOST")
    port = (
        _port(args.port, "-p/--port")
        or _port(env.get("TOXBRIDGE_PORT"), "TOXBRIDGE_PORT")
        or _port(env.get("TOX_SERVER_PORT"), "TOX_SERVER_PORT")
        or DEFAULT_PORT
    )
    return tcp_endpoint(host or DEFAULT_HOST, port)


def add_endpoint_options(parser: argparse.ArgumentParser, *, server: bool) -> None:
    group = parser.add_argument_group("endpoint")
    if server:
        group.add_argument(
            "-b",
            "--bind",
            metavar="HOST",
            help=f"address to bind (env TOXBRIDGE_BIND, TOX_SERVER_BIND_HOST; "
            f"default {DEFAULT_HOST})",
        )
    else:
        group.add_argument(
            "-H",
            "--host",
            metavar="HOST",
            help=f"server host (env TOXBRIDGE_HOST; default {DEFAULT_HOST})",
        )
    group.add_argument(
        "-p",
        "--port",
        metavar="PORT",
        help=f"TCP port (env TOXBRIDGE_PORT, TOX_SERVER_PORT; default {DEFAULT_PORT})",
    )
    group.add_argument(
        "--endpoint",
        metavar="URL",
        help="whole ZMQ endpoint instead of host and port: tcp://HOST:PORT or "
        "ipc:///path/to/socket (env TOXBRIDGE_ENDPOINT)",
    )
    group.add_argument(
        "--keys",
        metavar="DIR",
        help="CURVE keys from `toxbridge keygen` (env TOXBRIDGE_KEYS): the server needs "
        "server.key_secret and authorized/, a client server.key and client.key_secret",
    )
    if not server:
        group.add_argument(
            "--timeout",
            type=float,
            default=DEFAULT_TIMEOUT_S,
            metavar="SECONDS",
            help=f"how long to wait for the server to answer (default {DEFAULT_TIMEOUT_S:g})",
        )
