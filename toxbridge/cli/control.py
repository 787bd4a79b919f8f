"""`toxbridge ping`, `toxbridge cancel` and `toxbridge quit`: one request, one answer."""

from __future__ import annotations

import argparse
import json

from toxbridge.config import add_endpoint_options, resolve_endpoint


def configure(parser: argparse.ArgumentParser) -> None:
    add_endpoint_options(parser, server=False)
    parser.add_argument(
        "--now",
        action="store_true",
        help="quit: cancel running and queued runs instead of finishing them",
    )
    parser.add_argument(
        "--run-id",
        metavar="ID",
        help="cancel: this run instead of whichever is running now",
    )


def run(args: argparse.Namespace) -> int:
    import asyncio

    return asyncio.run(_control(args))


async def _control(args: argparse.Namespace) -> int:
    from toxbridge.net.auth import client_keys_from
    from toxbridge.net.client import Client

    endpoint = resolve_endpoint(args, server=False)
    keys = client_keys_from(args.keys)
    async with Client(endpoint, timeout=args.timeout, keys=keys) as client:
        if args.command == "ping":
            pong, rtt = await client.ping()
            state = {
                "time": pong.time,
                "version": pong.version,
                "protocol": pong.protocol,
                "running": list(pong.running),
                "queued": pong.queued,
                "rtt_ms": round(rtt * 1000, 3),
            }
            print(json.dumps(state, indent=2))
        elif args.command == "cancel":
            cancelled = await client.cancel(args.run_id or "current")
            print(f"cancelled: {', '.join(cancelled)}" if cancelled else "nothing was running")
        else:
            await client.quit(now=args.now)
            print("server is shutting down")
    return 0
