"""The `toxbridge` command line: one subcommand per job, each in its own module.

Subcommand modules are imported when the parser is built, so they keep their heavy
imports (zmq, pygls, lsprotocol) inside `run()`: `toxbridge run` must start fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from typing import Protocol, cast

from toxbridge import __version__
from toxbridge.errors import ToxbridgeError


class SubcommandModule(Protocol):
    """What a subcommand module provides."""

    def configure(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


# (name, module, one-line help)
SUBCOMMANDS: tuple[tuple[str, str, str], ...] = (
    ("serve", "toxbridge.cli.serve", "run the toxbridge server (inside the container)"),
    ("run", "toxbridge.cli.run", "run tox on the server; arguments after `run` go to tox"),
    ("ping", "toxbridge.cli.control", "ask the server for its state"),
    ("cancel", "toxbridge.cli.control", "cancel the server's current run"),
    ("quit", "toxbridge.cli.control", "stop the server"),
    ("parse", "toxbridge.cli.parse", "turn a saved tox/pytest log into diagnostics"),
    ("keygen", "toxbridge.cli.keygen", "write CURVE keys for a server and a client"),
    ("lsp", "toxbridge.cli.lsp", "the LSP bridge that editors launch (stdio)"),
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="toxbridge",
        description="Run tox inside a container from your terminal or editor.",
    )
    parser.add_argument("--version", action="version", version=f"toxbridge {__version__}")
    parser.add_argument(
        "-l",
        "--log-level",
        default="warning",
        choices=["debug", "info", "warning", "error"],
        help="log level for messages on stderr (default: warning)",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module_name, help_text in SUBCOMMANDS:
        module = cast(SubcommandModule, importlib.import_module(module_name))
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        module.configure(sub)
        sub.set_defaults(handler=module.run)
    return parser


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """Parse `argv`; for `run`, everything from the first argument tox owns goes to tox."""
    parser = build_parser()
    index = _subcommand_index(argv)
    if index is None or argv[index] != "run":
        return parser.parse_args(argv)
    from toxbridge.cli.run import split_argv

    own, tox_args = split_argv(argv[index + 1 :])
    args = parser.parse_args([*argv[: index + 1], *own])
    args.tox_args = tox_args
    return args


def _subcommand_index(argv: Sequence[str]) -> int | None:
    index = 0
    while index < len(argv):
        if argv[index] in ("-l", "--log-level"):
            index += 2
        elif argv[index].startswith("-"):
            index += 1
        else:
            return index
    return None


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else list(argv))
    logging.basicConfig(
        level=getattr(logging, args.log_level.upper()),
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    try:
        return int(args.handler(args))
    except ToxbridgeError as error:
        print(f"toxbridge: {error}", file=sys.stderr)
        return error.exit_code
