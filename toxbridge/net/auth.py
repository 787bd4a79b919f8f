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

from toxbridge.errors import ConfigError

log = logging.getLogger(__name__)

AUTHORIZED = "authorized"
KEY_POLL_S = 2.0  # how soon an added or removed client key takes effect


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


def _existing(directory: Path) -> Path:
    if not directory.is_dir():
        what = "is not a directory" if directory.exists() else "does not exist"
        raise ConfigError(f"keys directory {directory} {what} (create one with `toxbridge keygen`)")
    return directory


def load_server_keys(directory: Path) -> ServerKeys:
    _existing(directory)
    public, secret = _load(directory / "server.key_secret", secret=True)
    authorized = directory / AUTHORIZED
    if not authorized.is_dir() or not any(authorized.glob("*.key")):
        raise ConfigError(
            f"no authorised client keys in {authorized}: copy each client's client.key there"
        )
    assert secret is not None  # noqa: S101 (checked by _load)
    return ServerKeys(public, secret, authorized)


def load_client_keys(directory: Path) -> ClientKeys:
    _existing(directory)
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


class CurveServer:
    """The authenticator behind a CURVE server socket; `reload()` re-reads authorized/."""

    def __init__(self, authenticator: AsyncioAuthenticator, authorized: Path) -> None:
        self._authenticator = authenticator
        self.authorized = authorized
        self._seen = _key_files(authorized)
        authenticator.configure_curve(domain="*", location=str(authorized))

    def reload(self, *, why: str | None = None) -> bool:
        """Take in added, changed and removed client keys; True when they changed.

        `why` (such as "SIGHUP") reloads even when nothing seems to have changed."""
        now = _key_files(self.authorized)
        if now == self._seen and why is None:
            return False
        before, after = dict(self._seen), dict(now)
        self._seen = now
        self._authenticator.configure_curve(domain="*", location=str(self.authorized))
        changes = [f"+{name}" for name in sorted(after) if before.get(name) != after[name]]
        changes += [f"-{name}" for name in sorted(set(before) - set(after))]
        log.warning(
            "authorised client keys reloaded from %s (%s): %d key(s) (%s)",
            self.authorized,
            why or "they changed",
            len(after),
            ", ".join(changes) or "unchanged",
        )
        if not after:
            log.warning("no client key is authorised now: every client is refused")
        return True

    async def watch(self, interval: float = KEY_POLL_S) -> None:
        """Reload whenever authorized/ changes, checking every `interval` seconds."""
        while True:
            await asyncio.sleep(interval)
            self.reload()


def _key_files(directory: Path) -> frozenset[tuple[str, int]]:
    """The `*.key` files zmq.auth would load, with their modification times."""
    found = set()
    with contextlib.suppress(OSError):
        for path in directory.glob("*.key"):
            with contextlib.suppress(OSError):  # removed while we looked
                found.add((path.name, path.stat().st_mtime_ns))
    return frozenset(found)


@contextlib.asynccontextmanager
async def curve_server(
    context: zmq.asyncio.Context, socket: zmq.asyncio.Socket, keys: ServerKeys
) -> AsyncIterator[CurveServer]:
    """Require CURVE on `socket` (set before bind) and admit only authorised keys, which
    are re-read when authorized/ changes (and on `reload()`)."""
    authenticator = AsyncioAuthenticator(context, log=log.getChild("zap"))
    authenticator.start()
    try:
        curve = CurveServer(authenticator, keys.authorized)
        socket.curve_server = True
        socket.curve_publickey = keys.public
        socket.curve_secretkey = keys.secret
        watcher = asyncio.create_task(curve.watch())
        try:
            yield curve
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
    finally:
        authenticator.stop()


def curve_client(socket: zmq.asyncio.Socket, keys: ClientKeys) -> None:
    socket.curve_serverkey = keys.server_public
    socket.curve_publickey = keys.public
    socket.curve_secretkey = keys.secret
