"""`toxbridge run [OPTIONS] [TOX ARGS…]`: tox in the container, as if it ran here.

toxbridge's own options come first; from the first argument that is not one of them,
everything goes to tox unchanged (`--` included), so `toxbridge run -e py -- -k x` and
`toxbridge run -p 9000 -p auto` (port 9000, tox's `-p auto`) both do what they say.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING

from toxbridge.config import (
    DEFAULT_LIVENESS_S,
    Endpoint,
    add_endpoint_options,
    resolve_endpoint,
)

if TYPE_CHECKING:
    from toxbridge.net.client import Client

_WITH_VALUE = {
    "-H",
    "--host",
    "-p",
    "--port",
    "--endpoint",
    "--timeout",
    "--liveness",
    "--color",
    "--keys",
}
_FLAGS = {"--local", "-h", "--help"}


_SAME = {"-H": "--host", "-p": "--port", "-h": "--help"}


def split_argv(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """(toxbridge's options, tox's arguments).

    Each of toxbridge's options is taken once: a second `-p` is tox's (`-p auto`).
    """
    own: list[str] = []
    seen: set[str] = set()
    index = 0
    while index < len(argv):
        token = argv[index]
        name = token.split("=", 1)[0]
        canonical = _SAME.get(name, name)
        if canonical in seen:
            break
        seen.add(canonical)
        if token in _FLAGS or (name in _WITH_VALUE and "=" in token):
            own.append(token)
        elif token in _WITH_VALUE and index + 1 < len(argv):
            own += [token, argv[index + 1]]
            index += 1
        else:
            break
        index += 1
    return own, list(argv[index:])


def configure(parser: argparse.ArgumentParser) -> None:
    parser.usage = "toxbridge run [OPTIONS] [TOX ARGS...]"
    add_endpoint_options(parser, server=False)
    parser.add_argument(
        "--local",
        action="store_true",
        help="no container: start a private server here (ipc socket in a temp dir), run, stop",
    )
    parser.add_argument(
        "--color",
        choices=["auto", "yes", "no"],
        default="auto",
        help="colour tox and pytest output (auto: when stdout is a terminal)",
    )
    parser.add_argument(
        "--liveness",
        type=float,
        default=DEFAULT_LIVENESS_S,
        metavar="SECONDS",
        help="give up when the server is silent this long mid-run (default %(default)g)",
    )
    parser.set_defaults(tox_args=[])


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_main(args))


async def _main(args: argparse.Namespace) -> int:
    color = args.color == "yes" or (args.color == "auto" and os.isatty(1))
    env = {"COLUMNS": str(shutil.get_terminal_size().columns)} if os.isatty(1) else {}
    from toxbridge.net.auth import client_keys_from
    from toxbridge.net.client import Client

    async with contextlib.AsyncExitStack() as stack:
        if args.local:
            endpoint, keys = await stack.enter_async_context(local_server(os.getcwd())), None
        else:
            endpoint, keys = resolve_endpoint(args, server=False), client_keys_from(args.keys)
        client = Client(
            endpoint,
            timeout=args.timeout,
            liveness_s=args.liveness,
            keys=keys,
            name="toxbridge run",
        )
        async with client:
            return await relay(client, args.tox_args, color, env)
    raise AssertionError("unreachable")  # pragma: no cover


async def relay(client: Client, tox_args: Sequence[str], color: bool, env: dict[str, str]) -> int:
    """Run tox remotely, copy its output to ours, return its exit code (see cli.relay)."""
    from toxbridge.cli.relay import relay as relay_run

    return await relay_run(client, tox_args, color, env)


@contextlib.asynccontextmanager
async def local_server(root: str) -> AsyncIterator[Endpoint]:
    """A private server for this process only, on an ipc socket in a temp dir."""
    from toxbridge.process.child import become_subreaper
    from toxbridge.server.app import Server, ServerSettings
    from toxbridge.server.execute import RunSettings

    become_subreaper()  # so that what the run leaves outside its group is found, and killed
    with tempfile.TemporaryDirectory(prefix="toxbridge-") as tmp:
        endpoint = Endpoint(f"ipc://{tmp}/server.sock")
        run_settings = RunSettings(root=root, tox_command=(sys.executable, "-m", "tox"))
        server = Server(ServerSettings(endpoint, run_settings))
        serving = asyncio.create_task(server.serve())
        bound = asyncio.create_task(server.bound.wait())
        try:
            await asyncio.wait({serving, bound}, return_when=asyncio.FIRST_COMPLETED)
            if serving.done():
                serving.result()  # raises what stopped it from binding
            yield endpoint
        finally:
            bound.cancel()
            server.stop(now=True)
            await serving
