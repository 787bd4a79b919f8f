"""Which arguments are toxbridge's and which are tox's, and each subcommand's own options.

Pure: the real parser, no server.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from toxbridge.cli.main import build_parser, parse_args
from toxbridge.cli.run_args import split_argv
from toxbridge.config import resolve_endpoint
from toxbridge.errors import ConfigError


@pytest.mark.parametrize(
    ("argv", "own", "tox"),
    [
        (["-e", "py"], [], ["-e", "py"]),
        (["-e", "py", "--", "-k", "x"], [], ["-e", "py", "--", "-k", "x"]),
        # every short option is tox's, -p and -h included
        (["-p", "auto", "-e", "py"], [], ["-p", "auto", "-e", "py"]),
        (["-h"], [], ["-h"]),
        (["-H", "box"], [], ["-H", "box"]),
        # toxbridge's long options, anywhere before `--`, with a value or `=value`
        (["--port", "9000", "-p", "auto"], ["--port", "9000"], ["-p", "auto"]),
        (["-e", "py", "--local", "--color=yes"], ["--local", "--color=yes"], ["-e", "py"]),
        (["--endpoint", "ipc:///s", "l"], ["--endpoint", "ipc:///s"], ["l"]),
        (["--env", "A=1", "--env", "B=2", "r"], ["--env", "A=1", "--env", "B=2"], ["r"]),
        # bare --color means yes; its value is taken only when it is one of its choices
        (["--color", "-e", "py"], ["--color"], ["-e", "py"]),
        (["--color", "no", "-e", "py"], ["--color", "no"], ["-e", "py"]),
        (["--color", "l"], ["--color"], ["l"]),
        # unknown or abbreviated long options are tox's
        (["--colored", "yes", "--loc"], [], ["--colored", "yes", "--loc"]),
        (["--version"], [], ["--version"]),
        # from the first `--` on, everything is tox's, `--` included
        (["-e", "py", "--", "--local", "--port"], [], ["-e", "py", "--", "--local", "--port"]),
        (["--", "-e"], [], ["--", "-e"]),
        (["--help"], ["--help"], []),
        ([], [], []),
    ],
)
def test_after_run_only_toxbridges_long_options_are_its_own(
    argv: list[str], own: list[str], tox: list[str]
) -> None:
    assert split_argv(argv) == (own, tox)


def test_connection_options_before_run_and_tox_short_options_after() -> None:
    args = parse_args(["-p", "9876", "run", "-p", "auto", "-e", "py"])
    assert args.port == "9876"
    assert args.tox_args == ["-p", "auto", "-e", "py"]


def test_toxbridge_port_in_the_environment_leaves_tox_its_p() -> None:
    args = parse_args(["run", "-p", "auto", "-e", "py"])
    assert args.tox_args == ["-p", "auto", "-e", "py"]
    endpoint = resolve_endpoint(args, {"TOXBRIDGE_PORT": "9000"}, server=False)
    assert str(endpoint) == "tcp://127.0.0.1:9000"


def test_bare_color_is_toxbridges_and_means_yes() -> None:
    args = parse_args(["run", "--color", "-e", "py"])
    assert (args.color, args.tox_args) == ("yes", ["-e", "py"])
    assert parse_args(["run", "-e", "py"]).color == "auto"


def test_log_level_before_or_after_the_subcommand() -> None:
    assert parse_args(["serve", "-l", "info"]).log_level == "info"
    assert parse_args(["-l", "debug", "serve"]).log_level == "debug"
    assert parse_args(["ping", "--log-level", "error"]).log_level == "error"
    assert parse_args(["run", "--log-level", "info", "-l"]).tox_args == ["-l"]
    assert parse_args(["ping"]).log_level == "warning"


def test_the_option_given_last_wins() -> None:
    assert parse_args(["-p", "1", "ping", "-p", "2"]).port == "2"
    assert parse_args(["-p", "1", "ping"]).port == "1"
    assert parse_args(["--endpoint", "ipc:///a", "run", "--endpoint", "ipc:///b"]).endpoint == (
        "ipc:///b"
    )


def usage_error(argv: list[str]) -> str:
    with pytest.raises(SystemExit) as raised:
        parse_args(argv)
    assert raised.value.code == ConfigError.exit_code
    return str(raised.value)


@pytest.mark.parametrize(
    "argv",
    [
        ["ping", "--now"],
        ["ping", "--run-id", "x"],
        ["cancel", "--now"],
        ["quit", "--run-id", "x"],
        ["ping", "--tim", "1"],  # no abbreviations
        ["serve", "-H", "box"],
        ["-H", "box", "serve"],
        ["-p", "1", "keygen", "d"],
        ["run", "--color=maybe"],
        ["run", "--port"],
        [],
    ],
)
def test_options_a_subcommand_does_not_have_are_usage_errors(argv: list[str]) -> None:
    usage_error(argv)


def test_each_subcommand_has_its_own_help() -> None:
    subparsers = build_parser()._subparsers
    assert subparsers is not None
    choices = subparsers._group_actions[0].choices
    assert isinstance(choices, dict)
    helps = {name: parser.format_help() for name, parser in choices.items()}
    assert "--now" not in helps["ping"]
    assert "--run-id" not in helps["ping"]
    assert "--json" in helps["ping"]
    assert "--run-id" in helps["cancel"]
    assert "--now" not in helps["cancel"]
    assert "--now" in helps["quit"]
    assert "--client" in helps["keygen"]
    # after `run` short options are tox's, so run's help offers none
    assert "-h," not in helps["run"]
    assert " -p" not in helps["run"].split("After `run`")[0]


def test_help_and_version_exit_zero() -> None:
    for argv in (["--help"], ["ping", "--help"], ["run", "--help"], ["--version"]):
        done = subprocess.run(
            [sys.executable, "-m", "toxbridge", *argv], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout
