"""Connection errors that say what is wrong, as soon as it is known.

Each case is a real listener: nothing at all, a plain TCP socket that accepts and closes
(what Docker's port proxy does when nothing listens in the container), one that accepts
and says nothing, and a real server with keys for a client without them.
"""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq

from tests.conftest import free_port, start_server, toxbridge
from toxbridge.errors import AuthenticationFailed, ServerUnreachable
from toxbridge.net.monitor import RefusalLog

AT_ONCE_S = 2.5  # well under the 5 s timeout these commands run with


def ping(endpoint: str, *extra: str) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    result = subprocess.run(
        toxbridge("ping", "--endpoint", endpoint, *extra),
        capture_output=True,
        text=True,
        timeout=60,
    )
    return result, time.monotonic() - started


@pytest.fixture
def listener() -> Iterator[tuple[socket.socket, list[socket.socket]]]:
    """A plain TCP listener on loopback; the test decides what it does with connections."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    held: list[socket.socket] = []
    try:
        yield server, held
    finally:
        server.close()
        for connection in held:
            connection.close()


def serve_connections(server: socket.socket, held: list[socket.socket], *, close: bool) -> None:
    def accept() -> None:
        while True:
            try:
                connection, _ = server.accept()
            except OSError:  # the listener was closed: the test is over
                return
            if close:
                connection.close()
            else:
                held.append(connection)

    threading.Thread(target=accept, daemon=True).start()


def test_nothing_listening_is_reported_at_once() -> None:
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    result, took = ping(endpoint)
    assert result.returncode == ServerUnreachable.exit_code
    assert result.stderr.count("\n") == 1, result.stderr
    assert f"nothing is listening at {endpoint}" in result.stderr
    assert took < AT_ONCE_S


def test_a_run_against_nothing_is_reported_at_once() -> None:
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    started = time.monotonic()
    result = subprocess.run(
        toxbridge("run", "--endpoint", endpoint, "-e", "py"), capture_output=True, text=True
    )
    assert result.returncode == ServerUnreachable.exit_code
    assert "nothing is listening" in result.stderr
    assert time.monotonic() - started < AT_ONCE_S


def test_a_listener_that_accepts_and_closes_is_not_called_a_key_problem(
    listener: tuple[socket.socket, list[socket.socket]],
) -> None:
    server, held = listener
    serve_connections(server, held, close=True)
    result, took = ping(f"tcp://127.0.0.1:{server.getsockname()[1]}")
    assert result.returncode == ServerUnreachable.exit_code
    assert "accepted the connection and closed it" in result.stderr
    assert "toxbridge server" in result.stderr
    assert "key" not in result.stderr
    assert took < AT_ONCE_S


def test_a_listener_that_accepts_and_says_nothing_is_named_as_such(
    listener: tuple[socket.socket, list[socket.socket]],
) -> None:
    server, held = listener
    serve_connections(server, held, close=False)
    result, _ = ping(f"tcp://127.0.0.1:{server.getsockname()[1]}", "--timeout", "1")
    assert result.returncode == ServerUnreachable.exit_code
    assert "accepted the connection but said nothing for 1s" in result.stderr
    assert "key" not in result.stderr


def test_a_keyless_client_is_refused_at_once_and_logged_once(project: Path, tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    subprocess.run(toxbridge("keygen", str(keys)), check=True, capture_output=True)
    server = start_server(project, tmp_path / "server.log", "--keys", str(keys))
    try:
        for _ in range(3):
            result, took = ping(server.endpoint)
            assert result.returncode == AuthenticationFailed.exit_code
            assert "the server requires keys: pass --keys" in result.stderr
            assert took < AT_ONCE_S
    finally:
        server.stop()
    refusals = [line for line in server.log.read_text().splitlines() if "refused a client" in line]
    assert len(refusals) == 1, refusals


def test_refusals_are_logged_once_per_host_and_interval(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log = RefusalLog(interval=60)
    auth, no_detail = zmq.Event.HANDSHAKE_FAILED_AUTH, zmq.Event.HANDSHAKE_FAILED_NO_DETAIL
    with caplog.at_level("WARNING", logger="toxbridge.net.monitor"):
        for port in range(40000, 40034):  # one client retrying: a new port every time
            log.record(auth, 400, f"tcp://10.0.0.5:{port}")
        log.record(no_detail, 32, "tcp://10.0.0.5:40100")  # the same client, failing otherwise
        log.record(auth, 400, "tcp://10.0.0.6:1234")  # another host
        hosts = [record.getMessage().split(":")[1] for record in caplog.records]
        assert hosts == ["//10.0.0.5", "//10.0.0.6"]
        log.interval = 0  # the minute is over: the next line says how many it did not log
        log.record(auth, 400, "tcp://10.0.0.5:40200")
    assert "34 more refusals" in caplog.records[-1].getMessage()
