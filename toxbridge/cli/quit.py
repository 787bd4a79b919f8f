"""`toxbridge quit`: stop the server once its runs end, or at once with `--now`."""

from __future__ import annotations

import argparse

from toxbridge.config import add_endpoint_options


def configure(parser: argparse.ArgumentParser) -> None:
    add_endpoint_options(parser, server=False)
    parser.add_argument(
        "--now",
        action="store_true",
        help="cancel the running and queued runs instead of letting them finish",
    )


def run(args: argparse.Namespace) -> int:
    import asyncio

    from toxbridge.cli.connect import connection, open_client

    async def request() -> None:
        async with open_client(settings) as client:
            await client.quit(now=args.now)

    settings = connection(args)
    asyncio.run(request())
    if args.now:
        print(f"the server at {settings.endpoint} is stopping; its runs are being cancelled")
    else:
        print(f"the server at {settings.endpoint} stops once its running and queued runs end")
    return 0
