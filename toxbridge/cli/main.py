"""The `toxbridge` command line: one subcommand per job, each in its own module.

Only the chosen subcommand's module is imported and only its options are built, so
`toxbridge ping` or `toxbridge run` pays for neither the server, the process runner nor
the LSP bridge. `build_parser()` with no argument builds every subcommand (completion,
the README's reference).

Connection options (`-H`, `-p`, `--endpoint`, `--keys`) and `-l` may come before the
subcommand and, for every subcommand but `run`, after it too; after `run` only long
options are toxbridge's (`toxbridge.cli.run_args`). The one given last wins.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Collection, Sequence
from typing import NoReturn, Protocol, cast

from toxbridge import __version__
from toxbridge.errors import ConfigError, ToxbridgeError

# (name, module, one-line help); each module has `configure(parser)` and `run(args)`
SUBCOMMANDS: tuple[tuple[str, str, str], ...] = (
    ("serve", "toxbridge.cli.serve", "run the toxbridge server (inside the container)"),
    (
        "run",
        "toxbridge.cli.run_args",
        "run tox on the server; after `run`, only long options are toxbridge's",
    ),
    (
        "ping",
        "toxbridge.cli.ping",
        "show the server's state: version, round trip, running and queued runs",
    ),
    ("cancel", "toxbridge.cli.cancel", "cancel the server's current run (or --run-id ID)"),
    ("quit", "toxbridge.cli.quit", "stop the server once its runs end (or at once: --now)"),
    ("parse", "toxbridge.cli.parse", "turn a saved tox/pytest log into diagnostics"),
    (
        "keygen",
        "toxbridge.cli.keygen",
        "write CURVE keys for a server and a client, or add a client (--client NAME)",
    ),
    ("lsp", "toxbridge.cli.lsp", "the LSP bridge that editors launch (stdio)"),
    ("completion", "toxbridge.cli.completion", "print a shell completion script: bash, zsh, fish"),
)
# the subcommands that connect to a server, and so take connection options
CLIENTS = frozenset(("run", "ping", "cancel", "quit", "lsp"))
# one request, one answer, over a plain socket (net.oneshot)
_ONE_SHOT = frozenset(("ping", "cancel", "quit"))
# these log nothing at the default level, so they skip setting logging up
_LOGS_NOTHING = _ONE_SHOT | {"completion"}
LOG_LEVELS = ("debug", "info", "warning", "error")
# options before the subcommand that take a value (to find the subcommand without parsing)
_TOP_WITH_VALUE = frozenset(
    ("-H", "--host", "-p", "--port", "--endpoint", "--keys", "-l", "--log-level")
)
_CONNECTION = (
    ("host", "-H/--host"),
    ("port", "-p/--port"),
    ("endpoint", "--endpoint"),
    ("keys", "--keys"),
)


class Formatter(argparse.RawDescriptionHelpFormatter):
    """Help with descriptions and epilogs as written (they are wrapped by hand), sized
    to the terminal as argparse does, without importing shutil (and bz2, lzma) to ask."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: int | None = None) -> None:  # fmt: skip
        if width is None:
            width = _terminal_columns() - 2
        super().__init__(prog, indent_increment, max_help_position, width)


def _terminal_columns() -> int:
    """What shutil.get_terminal_size() says: $COLUMNS, else stdout's terminal, else 80."""
    import os

    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    try:
        return os.get_terminal_size(1).columns
    except OSError:
        return 80


class Parser(argparse.ArgumentParser):
    """argparse with toxbridge's usage exit status, which no tox run returns, and a
    usage error in one line that says where the options are listed."""

    subcommands: dict[str, argparse.ArgumentParser]

    def error(self, message: str) -> NoReturn:
        hint = f"`{self.prog} --help` lists the options"
        self.exit(ConfigError.exit_code, f"{self.prog}: error: {message} ({hint})\n")


class SubcommandModule(Protocol):
    """What a subcommand module provides."""

    def configure(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


def _module(name: str) -> SubcommandModule:
    return cast(SubcommandModule, importlib.import_module(name))


def build_parser(configure: Collection[str] | None = None) -> Parser:
    """The parser, with the options of the subcommands in `configure` (None: all)."""
    parser = Parser(
        prog="toxbridge",
        description="Run tox inside a container from your terminal or editor.",
        allow_abbrev=False,
        formatter_class=Formatter,
    )
    parser.add_argument("--version", action="version", version=f"toxbridge {__version__}")
    group = parser.add_argument_group(
        "connection options (here or after the subcommand; after `run`, long forms only)"
    )
    group.add_argument("-H", "--host", metavar="HOST", help="the server's host (clients)")
    group.add_argument("-p", "--port", metavar="PORT", help="the server's TCP port")
    group.add_argument("--endpoint", metavar="URL", help="tcp://HOST:PORT or ipc:///path")
    group.add_argument("--keys", metavar="DIR", help="CURVE keys from `toxbridge keygen`")
    group.add_argument(
        "-l",
        "--log-level",
        default="warning",
        choices=LOG_LEVELS,
        help="log level for messages on stderr (default: warning)",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    parser.subcommands = {}
    for name, module, help_text in SUBCOMMANDS:
        sub = subparsers.add_parser(
            name,
            help=help_text,
            description=help_text,
            allow_abbrev=False,
            formatter_class=Formatter,
            add_help=name != "run",  # after `run`, -h is tox's; run_args adds --help
        )
        sub.set_defaults(module=module)
        parser.subcommands[name] = sub
        if configure is None or name in configure:
            _module(module).configure(sub)
            sub.add_argument(
                *(["--log-level"] if name == "run" else ["-l", "--log-level"]),
                choices=LOG_LEVELS,
                default=argparse.SUPPRESS,
                help="log level for messages on stderr (default: warning)",
            )
    return parser


def subcommand_index(argv: Sequence[str]) -> int | None:
    """Where the subcommand is in `argv`: the first word that no option before it takes."""
    index = 0
    while index < len(argv):
        token = argv[index]
        if token in _TOP_WITH_VALUE:
            index += 2
        elif token == "--":  # noqa: S105 (an argument, not a password)
            return index + 1 if index + 1 < len(argv) else None
        elif token.startswith("-"):
            index += 1
        else:
            return index
    return None


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """Parse `argv`; after `run`, what `run_args.split_argv` gives tox goes to tox."""
    index = subcommand_index(argv)
    name = argv[index] if index is not None else None
    parser = build_parser(configure=() if name is None else (name,))
    tox_args: list[str] = []
    if name == "run":
        from toxbridge.cli.run_args import split_argv

        assert index is not None  # noqa: S101 (name is argv[index])
        own, tox_args = split_argv(argv[index + 1 :])
        argv = [*argv[: index + 1], *own]
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # argparse blames the top level even for a subcommand's unknown option
        before = index is not None and any(token in argv[:index] for token in unknown)
        owner = parser if before else parser.subcommands[args.command]
        owner.error(f"unrecognized arguments: {' '.join(unknown)}")
    if name == "run":
        args.tox_args = tox_args
    _check_connection_options(parser, args)
    return args


def _check_connection_options(parser: Parser, args: argparse.Namespace) -> None:
    sub = parser.subcommands[args.command]
    given = [flag for dest, flag in _CONNECTION if getattr(args, dest)]
    if given and args.command not in CLIENTS and args.command != "serve":
        sub.error(f"{', '.join(given)}: `{args.command}` connects to no server")
    if args.command == "serve" and args.host:
        sub.error("-H/--host is a client's option; the server binds with -b/--bind")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; `argv` None means this process's own arguments."""
    try:
        args = parse_args(sys.argv[1:] if argv is None else list(argv))
    except ToxbridgeError as error:
        print(f"toxbridge: {error}", file=sys.stderr)
        return error.exit_code
    if args.log_level != "warning" or args.command not in _LOGS_NOTHING:
        _configure_logging(args.log_level)
    try:
        code = _module(args.module).run(args)
    except ToxbridgeError as error:
        print(f"toxbridge: {error}", file=sys.stderr)
        code = error.exit_code
    except KeyboardInterrupt:
        code = 130
    if argv is None and args.command in _ONE_SHOT:
        # A one-shot request has closed its socket and context and has nothing left to
        # clean up; tearing the interpreter's modules down would add a fifth to its time.
        import os

        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


def _configure_logging(level: str) -> None:
    import logging

    logging.basicConfig(
        level=getattr(logging, level.upper()),
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
