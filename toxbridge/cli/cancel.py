"""`toxbridge cancel`: cancel the server's current run, or the one `--run-id` names."""

from __future__ import annotations

import argparse
import sys

from toxbridge.config import add_endpoint_options


def configure(parser: argparse.ArgumentParser) -> None:
    add_endpoint_options(parser, server=False)
    parser.add_argument(
        "--run-id",
        metavar="ID",
        help="cancel this run, running or queued (`toxbridge ping` shows the running "
        "one's id), instead of whichever is running now",
    )
    parser.epilog = "exit status: 0 when cancelled or nothing was running, 1 when --run-id "
    parser.epilog += "names no run"


def run(args: argparse.Namespace) -> int:
    import asyncio

    from toxbridge.cli.connect import connection, open_client

    async def request() -> tuple[str, ...]:
        async with open_client(settings) as client:
            return await client.cancel(args.run_id or "current")

    settings = connection(args)
    cancelled = asyncio.run(request())
    if cancelled:
        print(f"cancelled: {', '.join(cancelled)}")
    elif args.run_id:
        print(f"toxbridge: no such run: {args.run_id!r} (not running or queued)", file=sys.stderr)
        return 1
    else:
        print("nothing was running")
    return 0
