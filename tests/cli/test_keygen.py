"""`toxbridge keygen --client NAME DIR` adds a developer that a real server then admits,
without touching the server's keys or the first client's."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import start_server, toxbridge
from toxbridge.errors import AuthenticationFailed, ConfigError


def keygen(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(toxbridge("keygen", *args), capture_output=True, text=True, timeout=60)


def ping(endpoint: str, keys: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        toxbridge("ping", "--endpoint", endpoint, "--keys", str(keys), "--timeout", "3"),
        capture_output=True,
        text=True,
        timeout=60,
    )


def contents(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in directory.rglob("*.key*")}


def test_an_added_client_is_admitted_and_nothing_else_changes(
    project: Path, tmp_path: Path
) -> None:
    keys = tmp_path / "keys"
    assert keygen(str(keys)).returncode == 0
    before = contents(keys)
    added = keygen("--client", "alice", str(keys))
    assert added.returncode == 0, added.stderr
    alice = keys / "clients" / "alice"
    assert str(alice) in added.stdout
    after = contents(keys)
    assert {k: v for k, v in after.items() if k in before} == before  # server's, client's
    assert sorted(set(after) - set(before)) == [
        "authorized/alice.key",
        "clients/alice/client.key",
        "clients/alice/client.key_secret",
        "clients/alice/server.key",
    ]
    assert after["authorized/alice.key"] == after["clients/alice/client.key"]
    assert after["clients/alice/server.key"] == before["server.key"]
    assert (alice / "client.key_secret").stat().st_mode & 0o077 == 0

    stranger = tmp_path / "stranger"
    assert keygen(str(stranger)).returncode == 0
    server = start_server(project, tmp_path / "server.log", "--keys", str(keys))
    try:
        assert ping(server.endpoint, alice).returncode == 0  # the new developer
        assert ping(server.endpoint, keys).returncode == 0  # the first client, unharmed
        refused = ping(server.endpoint, stranger)
        assert refused.returncode == AuthenticationFailed.exit_code
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("alice", "exists"),  # added twice
        ("client", "exists"),  # the first client's public key
        ("server", "client name"),
        ("../evil", "client name"),
        ("", "client name"),
    ],
)
def test_bad_or_taken_client_names_are_refused(tmp_path: Path, name: str, message: str) -> None:
    keys = tmp_path / "keys"
    assert keygen(str(keys)).returncode == 0
    assert keygen("--client", "alice", str(keys)).returncode == 0
    before = contents(keys)
    refused = keygen("--client", name, str(keys))
    assert refused.returncode == ConfigError.exit_code
    assert message in refused.stderr
    assert refused.stderr.count("\n") == 1
    assert contents(keys) == before


def test_adding_a_client_needs_the_servers_keys(tmp_path: Path) -> None:
    refused = keygen("--client", "alice", str(tmp_path / "nothing"))
    assert refused.returncode == ConfigError.exit_code
    assert "server.key" in refused.stderr
    assert not (tmp_path / "nothing").exists()
