"""CURVE: keys from `toxbridge keygen`, accepted and refused clients, and binding rules."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

import pytest

from tests.conftest import start_server, toxbridge
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
