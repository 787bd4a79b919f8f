"""`toxbridge run`'s own options, and which arguments are tox's.

The rule: after `run`, toxbridge takes only its own long options, written exactly
(`--port 9000` or `--port=9000`; no abbreviations); every short option (`-p auto`,
`-e py`, `-h`), every other long option (`--colored`, `--version`) and everything from
the first `--` on (that `--` included) goes to tox unchanged and in order. Connection
options may also come before `run`: `toxbridge -p 9000 run -p auto` talks to port
9000 and runs `tox -p auto`.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from toxbridge.config import DEFAULT_LIVENESS_S, ProjectConfig, add_endpoint_options
from toxbridge.errors import ConfigError

COLOR_CHOICES = ("auto", "yes", "no")
# toxbridge's long options after `run`, by how many arguments they take
_WITH_VALUE = frozenset(
    (
        "--host",
        "--port",
        "--endpoint",
        "--keys",
        "--timeout",
        "--liveness",
        "--env",
        "--log-level",
        "--report-log",
    )
)
_OPTIONAL_VALUE = {"--color": COLOR_CHOICES}  # bare `--color` means yes
_FLAGS = frozenset(("--local", "--help", "--summary", "--no-summary"))

USAGE = "toxbridge [CONNECTION OPTIONS] run [--OPTION ...] [TOX ARGS ...]"
EPILOG = """\
After `run`, only the long options above are toxbridge's, written in full (`--port 9000`
or `--port=9000`). Everything else goes to tox unchanged and in order: every short option
(`-p auto`, `-e py`, `-h` for tox's own help), every other long option, and everything from
the first `--` on, that `--` included. Connection options may also come before `run`,
short or long: `toxbridge -p 9000 run -p auto` talks to port 9000 and runs `tox -p auto`.

exit status: tox's, unchanged; 122-125 are toxbridge's own failures (see the README)."""


def split_argv(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """(toxbridge's options, tox's arguments) of what follows `run`."""
    own: list[str] = []
    tox: list[str] = []
    index = 0
    while index < len(argv):
        token = argv[index]
        if token == "--":  # noqa: S105 (an argument, not a password)
            tox += argv[index:]
            break
        name, equals, _ = token.partition("=")
        if name in _FLAGS or name in _WITH_VALUE or name in _OPTIONAL_VALUE:
            own.append(token)
            following = argv[index + 1] if index + 1 < len(argv) else None
            if (
                not equals
                and following is not None
                and (name in _WITH_VALUE or following in _OPTIONAL_VALUE.get(name, ()))
            ):
                own.append(following)
                index += 1
        else:
            tox.append(token)
        index += 1
    return own, tox


def configure(parser: argparse.ArgumentParser) -> None:
    parser.usage = USAGE
    parser.epilog = EPILOG
    parser.add_argument("--help", action="help", help="show this help (-h is tox's)")
    add_endpoint_options(parser, server=False, short=False)
    parser.add_argument(
        "--local",
        action="store_true",
        help="no container: start a private server here (ipc socket in a temp dir), run, stop",
    )
    parser.add_argument(
        "--color",
        choices=COLOR_CHOICES,
        nargs="?",
        const="yes",
        default="auto",
        help="colour tox and pytest output (auto: when stdout is a terminal; bare --color: yes)",
    )
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set a variable in tox's environment (repeatable; added to pyproject's `env`); "
        "the server allows TOXBRIDGE_USER_*, a few more and its --allow-env names",
    )
    parser.add_argument(
        "--liveness",
        type=float,
        default=DEFAULT_LIVENESS_S,
        metavar="SECONDS",
        help="give up when the server is silent this long mid-run (default %(default)g)",
    )
    parser.add_argument(
        "--report-log",
        metavar="FILE",
        help="write the tests' results to FILE as pytest-reportlog JSON lines, paths mapped "
        "to this project (from the server's test events; empty if the run has none)",
    )
    parser.add_argument(
        "--summary",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="when stderr is a terminal, end with toxbridge's own summary: each failure as "
        "path:line: message [env|test id], and the counts per env (default)",
    )
    parser.set_defaults(tox_args=[])


def env_assignments(assignments: Sequence[str]) -> dict[str, str]:
    """`--env NAME=VALUE` options as a mapping (a later NAME wins)."""
    env: dict[str, str] = {}
    for assignment in assignments:
        name, equals, value = assignment.partition("=")
        if not equals or not name:
            raise ConfigError(
                f"--env expects NAME=VALUE, got {assignment!r} "
                "(it sets a variable for tox; a tox env is chosen with -e)"
            )
        env[name] = value
    return env


def request_env(
    args: argparse.Namespace, project: ProjectConfig, *, columns: int | None
) -> dict[str, str]:
    """The environment a run asks for: the terminal's width (when stdout is one), then
    pyproject's `env`, then `--env`; each later source wins per name."""
    env: dict[str, str] = {} if columns is None else {"COLUMNS": str(columns)}
    env.update(project.env)
    env.update(env_assignments(args.env))
    return env


def run(args: argparse.Namespace) -> int:
    # the relay (asyncio, zmq) is imported only to run, not to parse or show help
    from toxbridge.cli.run import run as run_tox

    return run_tox(args)
