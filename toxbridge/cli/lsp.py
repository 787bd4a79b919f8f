"""`toxbridge lsp`: the bridge an editor starts; it speaks LSP on stdin/stdout."""

from __future__ import annotations

import argparse
import logging
import os

from toxbridge.config import add_endpoint_options


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--stdio",
        action="store_true",
        help="speak LSP on stdin/stdout (the only transport; accepted for vscode-languageclient)",
    )
    parser.add_argument(
        "--log-file", metavar="FILE", help="also write the log to FILE (stdout is the protocol)"
    )
    add_endpoint_options(parser, server=False)


def run(args: argparse.Namespace) -> int:
    # pygls and lsprotocol take about half a second to import: only the bridge pays it.
    from toxbridge.lsp.handlers import build_server
    from toxbridge.lsp.settings import base_settings

    if args.log_file:
        handler = logging.FileHandler(args.log_file)
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        logging.getLogger().addHandler(handler)
    server = build_server(base_settings(args, os.environ))
    server.start_io()
    return 0
