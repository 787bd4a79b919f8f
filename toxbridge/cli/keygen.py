"""`toxbridge keygen DIR`: CURVE key pairs for a server and its first client."""

from __future__ import annotations

import argparse
from pathlib import Path


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("directory", type=Path, help="where to write the keys")


def run(args: argparse.Namespace) -> int:
    from toxbridge.net.auth import keygen

    for path in keygen(args.directory):
        print(path)
    print(
        f"server: toxbridge serve --keys {args.directory}  "
        "(needs server.key_secret and authorized/)\n"
        f"client: toxbridge run --keys {args.directory} …  "
        "(needs server.key, client.key and client.key_secret)\n"
        "another developer: run keygen for them and copy their client.key into authorized/"
    )
    return 0
