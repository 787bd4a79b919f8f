"""CURVE: keys from `toxbridge keygen`, accepted and refused clients, and binding rules."""

from __future__ import annotations

import asyncio
import shutil
import signal
import stat
import subprocess
from pathlib import Path

import pytest

from tests.conftest import start_server, toxbridge, wait_for_line
from toxbridge.config import parse_endpoint
from toxbridge.errors import AuthenticationFailed, ConfigError
from toxbridge.net.auth import keygen, load_client_keys
from toxbridge.net.client import Client
from toxbridge.process.child import StopPolicy
from toxbridge.server.app import Server, ServerSettings
from toxbridge.server.execute import RunSettings


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("keys")
    result = subprocess.run(toxbridge("keygen", str(directory)), capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return directory


def test_keygen_writes_zmq_certificates_with_private_secrets(keys: Path) -> None:
    names = sorted(str(path.relative_to(keys)) for path in keys.rglob("*") if path.is_file())
    assert names == [
        "authorized/client.key",
        "client.key",
        "client.key_secret",
        "server.key",
        "server.key_secret",
    ]
    for secret in ("client.key_secret", "server.key_secret"):
        assert stat.S_IMODE((keys / secret).stat().st_mode) == 0o600
    assert (keys / "authorized/client.key").read_bytes() == (keys / "client.key").read_bytes()
    with pytest.raises(ConfigError, match="refusing to overwrite"):
        keygen(keys)


async def test_authorised_client_runs_and_others_are_refused(
    keys: Path, project: Path, tmp_path: Path
) -> None:
    server = start_server(project, tmp_path / "server.log", "--keys", str(keys))
    stranger = tmp_path / "stranger"
    keygen(stranger)
    (stranger / "server.key").write_bytes((keys / "server.key").read_bytes())
    endpoint = parse_endpoint(server.endpoint)
    try:
        async with Client(endpoint, timeout=2, keys=load_client_keys(keys)) as client:
            async with client.run(["-e", "exit", "--", "6"]) as remote:
                async for _ in remote:
                    pass
            assert remote.result is not None
            assert remote.result.code == 6
        with pytest.raises(AuthenticationFailed, match="authorized/"):
            async with Client(endpoint, timeout=2, keys=load_client_keys(stranger)) as client:
                await client.ping()
        with pytest.raises(AuthenticationFailed, match="--keys"):
            async with Client(endpoint, timeout=2) as client:
                await client.ping()
        async with Client(endpoint, timeout=5, keys=load_client_keys(keys)) as client:
            pong, _ = await client.ping()  # unharmed by the refusals
            assert pong.running == ()
    finally:
        server.stop()
    assert "refused a client" in server.log.read_text()


def test_cli_without_keys_names_the_problem(keys: Path, project: Path, tmp_path: Path) -> None:
    server = start_server(project, tmp_path / "server.log", "--keys", str(keys))
    try:
        result = subprocess.run(
            toxbridge("ping", *server.client_args(), "--timeout", "2"),
            capture_output=True,
            text=True,
            timeout=30,
        )
    finally:
        server.stop()
    assert result.returncode == AuthenticationFailed.exit_code
    assert result.stderr.count("\n") == 1
    assert "keys" in result.stderr


def test_keys_allow_a_public_bind_and_missing_keys_are_clear(keys: Path, tmp_path: Path) -> None:
    from toxbridge.net.auth import load_server_keys

    run = RunSettings(root=str(tmp_path), tox_command=("tox",), stop_policy=StopPolicy())
    public = parse_endpoint("tcp://0.0.0.0:9876")
    Server(ServerSettings(public, run, keys=load_server_keys(keys)))  # accepted, not bound
    with pytest.raises(ConfigError, match="--keys"):
        Server(ServerSettings(public, run))
    with pytest.raises(ConfigError, match="cannot read key file"):
        load_server_keys(tmp_path)


async def test_a_revoked_key_is_refused_and_an_added_one_admitted_without_a_restart(
    keys: Path, project: Path, tmp_path: Path
) -> None:
    directory = tmp_path / "keys"
    shutil.copytree(keys, directory)
    authorized = directory / "authorized" / "client.key"
    server = start_server(project, tmp_path / "server.log", "--keys", str(directory))
    endpoint = parse_endpoint(server.endpoint)
    try:
        async with Client(endpoint, timeout=5, keys=load_client_keys(directory)) as client:
            await client.ping()
        authorized.unlink()  # revoked: the server notices by itself within seconds
        line = await asyncio.to_thread(wait_for_line, server.log, "keys reloaded")
        assert "(they changed): 0 key(s) (-client.key)" in line
        with pytest.raises(AuthenticationFailed, match="authorized/"):
            async with Client(endpoint, timeout=5, keys=load_client_keys(directory)) as client:
                await client.ping()
        shutil.copy(directory / "client.key", authorized)
        server.process.send_signal(signal.SIGHUP)  # or at once, on request
        await asyncio.to_thread(wait_for_line, server.log, "(SIGHUP)")
        async with Client(endpoint, timeout=5, keys=load_client_keys(directory)) as client:
            pong, _ = await client.ping()
        assert pong.running == ()
    finally:
        server.stop()


def test_a_keys_directory_that_does_not_exist_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nonexistent"
    for command in (["serve", "--root", str(tmp_path)], ["ping"]):
        result = subprocess.run(
            toxbridge(*command, "--keys", str(missing)), capture_output=True, text=True, timeout=30
        )
        assert result.returncode != 0
        assert f"keys directory {missing} does not exist" in result.stderr
        assert "Traceback" not in result.stderr
