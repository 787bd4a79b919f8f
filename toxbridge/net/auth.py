"""CURVE keys: generate them, load them, and put them on sockets.

Uses zmq.auth's certificate files and its asyncio authenticator; no crypto of our own.
A keys directory holds `server.key` (+ `server.key_secret` on the server),
`client.key` + `client.key_secret` (on a client), and `authorized/`, the public keys of
the clients the server accepts. `add_client` adds a developer: their own key directory
under `clients/NAME/` and their public key as `authorized/NAME.key`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import zmq
import zmq.asyncio
import zmq.auth
from zmq.auth.asyncio import AsyncioAuthenticator
from zmq.utils.monitor import parse_monitor_message

from toxbridge.errors import ConfigError

log = logging.getLogger(__name__)

AUTHORIZED = "authorized"
HANDSHAKE_FAILURES = (
    zmq.Event.HANDSHAKE_FAILED_AUTH
    | zmq.Event.HANDSHAKE_FAILED_PROTOCOL
    | zmq.Event.HANDSHAKE_FAILED_NO_DETAIL
)


@dataclass(frozen=True, slots=True)
class ServerKeys:
    public: bytes
    secret: bytes
    authorized: Path


@dataclass(frozen=True, slots=True)
class ClientKeys:
    server_public: bytes
    public: bytes
    secret: bytes


def keygen(directory: Path) -> list[Path]:
    """Write a server and a client key pair, and authorise the client; returns the files."""
    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name in ("server", "client"):
        if (directory / f"{name}.key_secret").exists():
            raise ConfigError(f"{directory / name}.key_secret exists; refusing to overwrite it")
        written += _key_pair(directory, name)
    authorized = directory / AUTHORIZED
    authorized.mkdir(exist_ok=True)
    written.append(Path(shutil.copy(directory / "client.key", authorized / "client.key")))
    return written


CLIENTS = "clients"
_CLIENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def add_client(directory: Path, name: str) -> list[Path]:
    """Add a client to the server's key directory without touching the server's keys:
    `clients/NAME/` gets the client's key pair (as `client.key`, `client.key_secret`)
    and a copy of `server.key`, so it is a whole `--keys` directory for that developer,
    and `authorized/NAME.key` admits it. Returns the files written."""
    if not _CLIENT_NAME.fullmatch(name) or name == "server":
        raise ConfigError(
            f"client name {name!r}: use letters, digits, '.', '_' or '-' (not 'server')"
        )
    server_public = directory / "server.key"
    if not server_public.is_file():
        raise ConfigError(
            f"{server_public} does not exist: make the server's keys first with "
            f"`toxbridge keygen {directory}`"
        )
    admitted = directory / AUTHORIZED / f"{name}.key"
    own = directory / CLIENTS / name
    for existing in (admitted, own):
        if existing.exists():
            raise ConfigError(f"{existing} exists; remove it first to replace client {name!r}")
    own.mkdir(mode=0o700, parents=True)
    written = _key_pair(own, "client")
    written.append(Path(shutil.copy(server_public, own / "server.key")))
    admitted.parent.mkdir(exist_ok=True)
    written.append(Path(shutil.copy(own / "client.key", admitted)))
    return written


def _key_pair(directory: Path, name: str) -> list[Path]:
    public, secret = zmq.auth.create_certificates(str(directory), name)
    Path(secret).chmod(0o600)
    return [Path(public), Path(secret)]


def _load(path: Path, *, secret: bool) -> tuple[bytes, bytes | None]:
    try:
        public, secret_key = zmq.auth.load_certificate(str(path))
    except (OSError, ValueError) as error:
        raise ConfigError(f"cannot read key file {path}: {error}") from None
    if secret and secret_key is None:
        raise ConfigError(f"{path} holds no secret key")
    return public, secret_key


def load_server_keys(directory: Path) -> ServerKeys:
    public, secret = _load(directory / "server.key_secret", secret=True)
    authorized = directory / AUTHORIZED
    if not authorized.is_dir() or not any(authorized.glob("*.key")):
        raise ConfigError(
            f"no authorised client keys in {authorized}: copy each client's client.key there"
        )
    assert secret is not None  # noqa: S101 (checked by _load)
    return ServerKeys(public, secret, authorized)


def load_client_keys(directory: Path) -> ClientKeys:
    server_public, _ = _load(directory / "server.key", secret=False)
    public, secret = _load(directory / "client.key_secret", secret=True)
    assert secret is not None  # noqa: S101 (checked by _load)
    return ClientKeys(server_public, public, secret)


def keys_directory(option: str | None) -> Path | None:
    value = option or os.environ.get("TOXBRIDGE_KEYS")
    return Path(value) if value else None


def client_keys_from(option: str | None) -> ClientKeys | None:
    """The client's keys from --keys or TOXBRIDGE_KEYS, or None when neither is set."""
    directory = keys_directory(option)
    return load_client_keys(directory) if directory else None


@contextlib.asynccontextmanager
async def curve_server(
    context: zmq.asyncio.Context, socket: zmq.asyncio.Socket, keys: ServerKeys
) -> AsyncIterator[None]:
    """Require CURVE on `socket` (set before bind) and admit only authorised keys."""
    authenticator = AsyncioAuthenticator(context, log=log.getChild("zap"))
    authenticator.start()
    authenticator.configure_curve(domain="*", location=str(keys.authorized))
    socket.curve_server = True
    socket.curve_publickey = keys.public
    socket.curve_secretkey = keys.secret
    try:
        async with watch_handshakes(socket, "server"):
            yield
    finally:
        authenticator.stop()


def curve_client(socket: zmq.asyncio.Socket, keys: ClientKeys) -> None:
    socket.curve_serverkey = keys.server_public
    socket.curve_publickey = keys.public
    socket.curve_secretkey = keys.secret


class HandshakeWatch:
    """The last handshake failure seen on a socket, as a sentence for the user."""

    def __init__(self) -> None:
        self.failure: str | None = None


@contextlib.asynccontextmanager
async def watch_handshakes(socket: zmq.asyncio.Socket, side: str) -> AsyncIterator[HandshakeWatch]:
    """Record (and log) failed security handshakes on `socket` while the block runs."""
    watch = HandshakeWatch()
    monitor = socket.get_monitor_socket(HANDSHAKE_FAILURES)
    task = asyncio.create_task(_read_monitor(monitor, watch, side))
    try:
        yield watch
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        socket.disable_monitor()
        monitor.close(linger=0)


async def _read_monitor(monitor: zmq.asyncio.Socket, watch: HandshakeWatch, side: str) -> None:
    while True:
        event = parse_monitor_message(await monitor.recv_multipart())
        kind = zmq.Event(event["event"])
        watch.failure = _explain(kind, side)
        # the server logs refusals; a client raises the failure as its error instead
        level = logging.WARNING if side == "server" else logging.DEBUG
        endpoint = event["endpoint"].decode(errors="replace")
        log.log(level, "%s: %s (%s)", side, watch.failure, endpoint)


def _explain(kind: zmq.Event, side: str) -> str:
    if side == "server":
        return "refused a client whose key is not authorised or that has no keys"
    if kind == zmq.Event.HANDSHAKE_FAILED_AUTH:
        return (
            "the server refused this client's key: ask its admin to copy your client.key "
            "into the server's authorized/ directory"
        )
    return (
        "the security handshake with the server failed: both sides need keys from the "
        "same `toxbridge keygen` (client: --keys DIR or TOXBRIDGE_KEYS; server: --keys DIR)"
    )
