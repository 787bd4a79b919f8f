"""Endpoint resolution: options, environment variables, defaults, and what is private."""

from __future__ import annotations

import argparse

import pytest

from toxbridge.cli.run import split_argv
from toxbridge.config import add_endpoint_options, parse_endpoint, resolve_endpoint
from toxbridge.errors import ConfigError


def parse(argv: list[str], *, server: bool) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_endpoint_options(parser, server=server)
    return parser.parse_args(argv)


@pytest.mark.parametrize(
    ("argv", "environ", "server", "expected"),
    [
        ([], {}, True, "tcp://127.0.0.1:9876"),
        ([], {}, False, "tcp://127.0.0.1:9876"),
        (["-p", "1234"], {"TOXBRIDGE_PORT": "99"}, False, "tcp://127.0.0.1:1234"),
        ([], {"TOXBRIDGE_PORT": "99", "TOX_SERVER_PORT": "98"}, False, "tcp://127.0.0.1:99"),
        ([], {"TOX_SERVER_PORT": "98"}, True, "tcp://127.0.0.1:98"),
        ([], {"TOX_SERVER_BIND_HOST": "::1"}, True, "tcp://[::1]:9876"),
        (["-b", "127.0.0.2"], {"TOXBRIDGE_BIND": "x"}, True, "tcp://127.0.0.2:9876"),
        (["-H", "box"], {}, False, "tcp://box:9876"),
        ([], {"TOXBRIDGE_HOST": "db"}, False, "tcp://db:9876"),
        (["--endpoint", "ipc:///tmp/s"], {"TOXBRIDGE_PORT": "1"}, False, "ipc:///tmp/s"),
        ([], {"TOXBRIDGE_ENDPOINT": "tcp://127.0.0.1:5"}, True, "tcp://127.0.0.1:5"),
    ],
)
def test_resolve_endpoint(
    argv: list[str], environ: dict[str, str], server: bool, expected: str
) -> None:
    assert str(resolve_endpoint(parse(argv, server=server), environ, server=server)) == expected


@pytest.mark.parametrize("bad", ["127.0.0.1:9", "http://x:1", "tcp://host", "tcp://", "udp://a:1"])
def test_bad_endpoints_are_refused(bad: str) -> None:
    with pytest.raises(ConfigError, match="bad endpoint"):
        parse_endpoint(bad)


@pytest.mark.parametrize("port", ["0", "70000", "http"])
def test_bad_ports_are_refused(port: str) -> None:
    with pytest.raises(ConfigError, match="port"):
        resolve_endpoint(parse([], server=False), {"TOXBRIDGE_PORT": port}, server=False)


@pytest.mark.parametrize(
    ("url", "private"),
    [
        ("tcp://127.0.0.1:1", True),
        ("tcp://127.3.2.1:1", True),
        ("tcp://localhost:1", True),
        ("tcp://[::1]:1", True),
        ("ipc:///run/tb.sock", True),
        ("tcp://0.0.0.0:1", False),
        ("tcp://*:1", False),
        ("tcp://192.168.1.4:1", False),
        ("tcp://eth0:1", False),
    ],
)
def test_private_endpoints(url: str, private: bool) -> None:
    assert parse_endpoint(url).is_private() is private


@pytest.mark.parametrize(
    ("argv", "own", "tox"),
    [
        (["-e", "py"], [], ["-e", "py"]),
        (["-e", "py", "--", "-k", "x"], [], ["-e", "py", "--", "-k", "x"]),
        (["-p", "9000", "-p", "auto"], ["-p", "9000"], ["-p", "auto"]),
        (["--local", "--color=yes", "-e", "py"], ["--local", "--color=yes"], ["-e", "py"]),
        (["--endpoint", "ipc:///s", "l"], ["--endpoint", "ipc:///s"], ["l"]),
        (["--", "-e"], [], ["--", "-e"]),
        ([], [], []),
    ],
)
def test_run_arguments_split_at_the_first_tox_argument(
    argv: list[str], own: list[str], tox: list[str]
) -> None:
    assert split_argv(argv) == (own, tox)
