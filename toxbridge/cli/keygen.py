"""`toxbridge keygen DIR`: CURVE keys for a server and its first client;
`toxbridge keygen --client NAME DIR`: one more developer for that server."""

from __future__ import annotations

import argparse
from pathlib import Path


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("directory", type=Path, metavar="DIR", help="the key directory")
    parser.add_argument(
        "--client",
        metavar="NAME",
        help="add a developer to DIR's existing server keys: their key pair goes to "
        "DIR/clients/NAME/ (with a copy of server.key), their public key to "
        "DIR/authorized/NAME.key; the server's keys are left alone",
    )


def run(args: argparse.Namespace) -> int:
    from toxbridge.net.auth import add_client, keygen

    directory: Path = args.directory
    written = keygen(directory) if args.client is None else add_client(directory, args.client)
    for path in written:
        print(path)
    if args.client is None:
        print(
            f"server: toxbridge serve --keys {directory}  "
            "(needs server.key_secret and authorized/)\n"
            f"client: toxbridge run --keys {directory} …  "
            "(needs server.key, client.key and client.key_secret)\n"
            f"another developer: toxbridge keygen --client NAME {directory}"
        )
    else:
        own = directory / "clients" / args.client
        print(
            f"give {args.client} the directory {own} privately (it holds their secret "
            f"key); they use it as their --keys DIR (or TOXBRIDGE_KEYS, or pyproject `keys`)\n"
            f"a server started with --keys {directory} from now on admits {args.client}"
        )
    return 0
