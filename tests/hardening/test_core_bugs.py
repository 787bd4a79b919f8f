"""Inputs the fuzz found that broke the server, one exact reproduction each (now fixed)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq

from tests.conftest import RunningServer, start_server
from toxbridge.wire import protocol


@pytest.fixture
def own_server(
    project: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[RunningServer]:
    """A server each: these inputs kill or wedge it. Warm tox unless the test says cold."""
    cold = ["--cold"] if getattr(request, "param", "warm") == "cold" else []
    server = start_server(project, tmp_path / "server.log", "--sigint-grace", "0.2", *cold)
    try:
        yield server
    finally:
        server.process.terminate()
        try:
            server.process.wait(timeout=5)
        except subprocess.TimeoutExpired:  # wedged by the bug under test
            server.process.kill()
            server.process.wait()


@pytest.fixture
def dealer(own_server: RunningServer) -> Iterator[zmq.Socket[bytes]]:
    socket: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.DEALER)
    socket.setsockopt(zmq.LINGER, 0)
    socket.setsockopt(zmq.RCVTIMEO, 10_000)
    socket.connect(own_server.endpoint)
    try:
        yield socket
    finally:
        socket.close()


def replies_until(socket: zmq.Socket[bytes], kind: type) -> list[protocol.Message]:
    seen: list[protocol.Message] = []
    while not seen or not isinstance(seen[-1], kind):
        try:
            seen.append(protocol.decode(socket.recv_multipart()))
        except zmq.Again:
            raise AssertionError(f"no {kind.__name__} within 10 s; got {seen}") from None
    return seen


def send_json(socket: zmq.Socket[bytes], header: dict[str, object]) -> None:
    socket.send_multipart([protocol.MAGIC, json.dumps(header).encode()])


@pytest.mark.parametrize(
    "own_server",
    ["warm", "cold"],
    indirect=True,
)
@pytest.mark.parametrize(
    "request_fields",
    [
        {"args": ["-e", "exit", "--", "a\x00b"]},
        {"args": ["-e", "exit", "--", "\ud800"]},
        {"args": ["-e", "exit"], "env": {"TERM": "a\x00b"}},
        # a start-up variable would send it down the cold path: refused before that choice
        {"args": ["-e", "exit", "--", "\ud800"], "env": {"PYTHONHASHSEED": "1"}},
    ],
    ids=["nul-in-args", "lone-surrogate-in-args", "nul-in-env", "refused-before-going-cold"],
)
def test_unexecutable_run_gets_an_answer_and_the_server_lives(
    own_server: RunningServer, dealer: zmq.Socket[bytes], request_fields: dict[str, object]
) -> None:
    # these once crashed the server at exec; now they are refused when they arrive
    send_json(dealer, {"id": "r", "kind": "run", "credit": 64, **request_fields})
    answers = replies_until(dealer, protocol.Exit | protocol.Error)  # type: ignore[arg-type]
    assert isinstance(answers[-1], protocol.Error)
    assert answers[-1].code is protocol.ErrorCode.BAD_ARGS
    dealer.send_multipart(protocol.encode(protocol.Ping("after")))
    assert isinstance(replies_until(dealer, protocol.Pong)[-1], protocol.Pong)
    assert own_server.process.poll() is None
    assert "started tox" not in own_server.log.read_text()


def test_a_run_that_goes_cold_on_a_warm_server_is_answered_and_the_server_lives(
    own_server: RunningServer, dealer: zmq.Socket[bytes]
) -> None:
    fields = {"args": ["-e", "exit", "--", "3"], "env": {"PYTHONHASHSEED": "1"}}
    send_json(dealer, {"id": "r", "kind": "run", "credit": 64, **fields})
    answers = replies_until(dealer, protocol.Exit)
    started = next(answer for answer in answers if isinstance(answer, protocol.Started))
    assert isinstance(answers[-1], protocol.Exit)
    assert answers[-1].code == 3
    log = own_server.log.read_text()
    assert "differ from the warm worker's: cold run" in log  # really the fallback
    assert f"started tox (pid {started.pid})" in log
    dealer.send_multipart(protocol.encode(protocol.Ping("after")))
    assert isinstance(replies_until(dealer, protocol.Pong)[-1], protocol.Pong)
    assert own_server.process.poll() is None


def test_cancel_ends_a_run_whose_client_granted_no_credit(dealer: zmq.Socket[bytes]) -> None:
    send_json(dealer, {"id": "r", "kind": "run", "args": ["-e", "echo"], "credit": 0})
    started = replies_until(dealer, protocol.Started)[-1]
    assert isinstance(started, protocol.Started)
    try:
        dealer.send_multipart(protocol.encode(protocol.Cancel("c", "r")))
        exit_ = replies_until(dealer, protocol.Exit)[-1]
        assert isinstance(exit_, protocol.Exit)
        assert exit_.cancelled
    finally:  # the wedged server will be SIGKILLed: do not leave its tox behind
        with contextlib.suppress(ProcessLookupError):
            os.killpg(started.pid, signal.SIGKILL)


def test_error_kind_without_id_gets_a_decodable_reply(dealer: zmq.Socket[bytes]) -> None:
    send_json(dealer, {"kind": "error"})
    reply = protocol.decode(dealer.recv_multipart())
    assert isinstance(reply, protocol.Error)
