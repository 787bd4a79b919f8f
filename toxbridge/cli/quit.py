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
    from toxbridge.cli.connect import connection, one_request
    from toxbridge.net.oneshot import request_id
    from toxbridge.wire.protocol import Quit

    settings = connection(args)
    one_request(settings, Quit(request_id(), args.now))
    if args.now:
        print(f"the server at {settings.endpoint} is stopping; its runs are being cancelled")
    else:
        print(f"the server at {settings.endpoint} stops once its running and queued runs end")
    return 0
