"""`toxbridge serve`: the server that runs inside the container."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

from toxbridge.config import DEFAULT_LIVENESS_S, add_endpoint_options, resolve_endpoint
from toxbridge.errors import ConfigError
from toxbridge.process.child import DEFAULT_STOP_POLICY, StopPolicy

if TYPE_CHECKING:
    from toxbridge.server.app import ServerSettings


def configure(parser: argparse.ArgumentParser) -> None:
    add_endpoint_options(parser, server=True)
    parser.add_argument(
        "--root", default=".", help="directory tox runs in (its tox.ini/pyproject.toml); default: ."
    )
    parser.add_argument(
        "--insecure",
        action="store_true",
        help="allow binding a non-loopback address without authentication",
    )
    parser.add_argument(
        "--liveness",
        type=float,
        default=DEFAULT_LIVENESS_S,
        metavar="SECONDS",
        help="cancel a run whose client is silent this long (default %(default)g)",
    )
    parser.add_argument(
        "--sigint-grace",
        type=float,
        default=DEFAULT_STOP_POLICY.sigint_grace,
        metavar="SECONDS",
        help="on cancel, wait this long after SIGINT before SIGTERM (default %(default)g)",
    )
    parser.add_argument(
        "--sigterm-grace",
        type=float,
        default=DEFAULT_STOP_POLICY.sigterm_grace,
        metavar="SECONDS",
        help="then wait this long after SIGTERM before SIGKILL (default %(default)g)",
    )
    _add_limits(parser)


def _add_limits(parser: argparse.ArgumentParser) -> None:
    """What one client may make the server hold, and what a run may leave behind."""
    parser.add_argument(
        "--max-message-size",
        type=int,
        default=1 << 20,
        metavar="BYTES",
        help="drop clients that send larger messages (default %(default)d)",
    )
    parser.add_argument(
        "--allow-env",
        action="append",
        default=[],
        metavar="NAME",
        help="let clients set this environment variable for tox (NAME* for a prefix)",
    )
    parser.add_argument(
        "--max-queued",
        type=int,
        default=64,
        metavar="N",
        help="refuse (busy) a run when N runs are waiting already (default %(default)d)",
    )
    parser.add_argument(
        "--max-queued-per-client",
        type=int,
        default=8,
        metavar="N",
        help="refuse (busy) a client's run when N of its runs are waiting (default %(default)d)",
    )
    parser.add_argument(
        "--watch-buffer",
        type=int,
        default=8 * 1024 * 1024,
        metavar="BYTES",
        help="what may wait for one `watch`er that reads slowly before its copies of output "
        "and test events are dropped (it is told how many: a gap) (default %(default)d)",
    )
    parser.add_argument(
        "--kill-leftovers",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="kill what a run leaves running outside tox's process group once tox is done "
        "(default); --no-kill-leftovers only names it on the run's stderr. Cancel kills it "
        "either way",
    )
    parser.add_argument(
        "--test-events",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="give runs that ask for them exact test results from inside pytest, through "
        "toxbridge's tox plugin (default); --no-test-events runs plain tox for everyone",
    )
    parser.add_argument(
        "--cold",
        action="store_true",
        default=os.environ.get("TOXBRIDGE_COLD", "") not in ("", "0"),
        help="start tox afresh for every run instead of forking a warm worker that has "
        "already imported it (also TOXBRIDGE_COLD=1)",
    )


def run(args: argparse.Namespace) -> int:
    import asyncio
    from importlib import metadata

    from toxbridge.net.auth import keys_directory, load_server_keys
    from toxbridge.process.child import become_subreaper
    from toxbridge.process.warm.supervisor import WarmTox
    from toxbridge.server.app import ServerSettings
    from toxbridge.server.execute import RunSettings
    from toxbridge.server.policy import DEFAULT_ALLOWED_ENV

    root = os.path.abspath(args.root)
    if not os.path.isdir(root):
        raise ConfigError(f"--root {args.root!r} is not a directory")
    try:
        tox_version: str | None = metadata.version("tox")
    except metadata.PackageNotFoundError:
        tox_version = None
    keys_dir = keys_directory(args.keys)
    tox_command = (sys.executable, "-m", "tox")
    settings = ServerSettings(
        endpoint=resolve_endpoint(args, server=True),
        run=RunSettings(
            root=root,
            tox_command=tox_command,
            stop_policy=StopPolicy(args.sigint_grace, args.sigterm_grace),
            allowed_env=(*DEFAULT_ALLOWED_ENV, *args.allow_env),
            tox_version=tox_version,
            warm=None if args.cold else WarmTox(root, tox_command),
            kill_leftovers=args.kill_leftovers,
            test_events=args.test_events,
        ),
        liveness_s=args.liveness,
        max_message_bytes=args.max_message_size,
        insecure=args.insecure,
        keys=load_server_keys(keys_dir) if keys_dir else None,
        max_queued=args.max_queued,
        max_queued_per_client=args.max_queued_per_client,
        watch_bytes=args.watch_buffer,
    )
    become_subreaper()
    asyncio.run(_serve(settings))
    return 0


async def _serve(settings: ServerSettings) -> None:
    from toxbridge.server.app import serve_forever

    def announce(line: str) -> None:
        print(f"toxbridge serve: {line}", file=sys.stderr, flush=True)

    warm = settings.run.warm
    if warm is None:
        await serve_forever(settings, announce)
        return
    async with warm:  # the worker lives exactly as long as the server
        await serve_forever(settings, announce)
