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
    from toxbridge.cli.connect import connection, one_request
    from toxbridge.net.oneshot import request_id
    from toxbridge.wire.protocol import Ack, Cancel

    settings = connection(args)
    reply, _ = one_request(
        settings, Cancel(request_id(), args.run_id or "current", by="toxbridge cancel")
    )
    cancelled = reply.cancelled if isinstance(reply, Ack) else ()
    if cancelled:
        print(f"cancelled: {', '.join(cancelled)}")
    elif args.run_id:
        print(f"toxbridge: no such run: {args.run_id!r} (not running or queued)", file=sys.stderr)
        return 1
    else:
        print("nothing was running")
    return 0
