"""Endpoint resolution (options, environment variables, pyproject.toml, defaults), what
is private, and `[tool.toxbridge]` as the CLI and the bridge read it."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from toxbridge.config import (
    ProjectConfig,
    add_endpoint_options,
    find_project,
    parse_endpoint,
    project_config,
    resolve_endpoint,
    resolve_keys,
    resolve_timeout,
)
from toxbridge.errors import ConfigError
from toxbridge.lsp.settings import pyproject_layer


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


PROJECT = ProjectConfig(endpoint="ipc:///project.sock", keys="/project/keys", timeout_s=9.0)


@pytest.mark.parametrize(
    ("argv", "environ", "expected"),
    [
        ([], {}, "ipc:///project.sock"),
        ([], {"TOXBRIDGE_PORT": "7"}, "tcp://127.0.0.1:7"),
        ([], {"TOX_SERVER_PORT": "8"}, "tcp://127.0.0.1:8"),
        ([], {"TOXBRIDGE_ENDPOINT": "tcp://127.0.0.1:5"}, "tcp://127.0.0.1:5"),
        (["-H", "box"], {}, "tcp://box:9876"),
        (["-p", "6"], {"TOXBRIDGE_HOST": "db"}, "tcp://db:6"),
        # a host or port given higher up beats a lower layer's whole endpoint
        (["-p", "6"], {"TOXBRIDGE_ENDPOINT": "tcp://127.0.0.1:5"}, "tcp://127.0.0.1:6"),
        (["--endpoint", "ipc:///x"], {"TOXBRIDGE_HOST": "db"}, "ipc:///x"),
    ],
)
def test_a_clients_endpoint_option_then_environment_then_pyproject(
    argv: list[str], environ: dict[str, str], expected: str
) -> None:
    args = parse(argv, server=False)
    assert str(resolve_endpoint(args, environ, server=False, project=PROJECT)) == expected


def test_the_server_ignores_the_projects_endpoint() -> None:
    args = parse([], server=True)
    assert str(resolve_endpoint(args, {}, server=True, project=PROJECT)) == "tcp://127.0.0.1:9876"


def test_keys_and_timeout_option_then_environment_then_pyproject() -> None:
    bare = parse([], server=False)
    assert resolve_keys(bare, {}, PROJECT) == "/project/keys"
    assert resolve_keys(bare, {"TOXBRIDGE_KEYS": "/env"}, PROJECT) == "/env"
    assert resolve_keys(parse(["--keys", "/opt"], server=False), {"TOXBRIDGE_KEYS": "/e"}) == "/opt"
    assert resolve_keys(bare, {}, ProjectConfig()) is None
    assert resolve_timeout(bare, PROJECT) == 9.0
    assert resolve_timeout(parse(["--timeout", "2"], server=False), PROJECT) == 2.0
    assert resolve_timeout(bare, ProjectConfig()) == 5.0


def write_pyproject(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "pyproject.toml"
    path.write_text(text)
    return path


def test_the_nearest_pyproject_with_a_toxbridge_table_is_found_upwards(tmp_path: Path) -> None:
    outer = write_pyproject(tmp_path, '[tool.toxbridge]\nendpoint = "tcp://127.0.0.1:1"\n')
    write_pyproject(tmp_path / "pkg", '[project]\nname = "pkg"\n')  # no table: skipped
    deep = tmp_path / "pkg" / "src" / "deeper"
    deep.mkdir(parents=True)
    found = find_project(deep)
    assert found is not None
    assert found[0] == str(outer)
    assert project_config(deep).endpoint == "tcp://127.0.0.1:1"
    assert project_config(deep).path == str(outer)


def test_no_pyproject_sets_nothing(tmp_path: Path) -> None:
    assert project_config(tmp_path) == ProjectConfig()


def test_pyproject_keys_any_spelling_and_paths_relative_to_its_folder(tmp_path: Path) -> None:
    write_pyproject(
        tmp_path,
        "[tool.toxbridge]\n"
        'endpoint = "ipc://.toxbridge/tb.sock"\n'
        'keys = "keys"\n'
        'env = {TOXBRIDGE_USER_A = "1"}\n'
        "timeout-s = 2.5\n"
        'toxArgs = ["-e", "py"]\n',  # the bridge's: ignored by the CLI, not an error
    )
    (tmp_path / "sub").mkdir()
    config = project_config(tmp_path / "sub")
    assert config.endpoint == f"ipc://{tmp_path}/.toxbridge/tb.sock"
    assert config.keys == str(tmp_path / "keys")
    assert config.env == {"TOXBRIDGE_USER_A": "1"}
    assert config.timeout_s == 2.5
    # the bridge reads the same file through the same reader and anchoring
    layer = pyproject_layer(str(tmp_path))
    assert layer is not None
    assert layer["keys"] == str(tmp_path / "keys")
    assert layer["endpoint"] == f"ipc://{tmp_path}/.toxbridge/tb.sock"


@pytest.mark.parametrize(
    ("table", "named"),
    [
        ('endpoint = "http://x"', "bad endpoint"),
        ("keys = 3", "'keys'"),
        ("env = {A = 1}", "'env'"),
        ("timeout_s = 0", "'timeout_s'"),
    ],
)
def test_a_bad_pyproject_value_names_the_file_and_key(
    tmp_path: Path, table: str, named: str
) -> None:
    path = write_pyproject(tmp_path, f"[tool.toxbridge]\n{table}\n")
    with pytest.raises(ConfigError, match=named) as raised:
        project_config(tmp_path)
    assert str(path) in str(raised.value)


def test_an_unparsable_pyproject_is_one_error_naming_it(tmp_path: Path) -> None:
    path = write_pyproject(tmp_path, "[tool.toxbridge\n")
    with pytest.raises(ConfigError, match="cannot read") as raised:
        project_config(tmp_path)
    assert str(path) in str(raised.value)
