"""`toxbridge ping`'s text for a person: pure formatting of a `pong`."""

from __future__ import annotations

from toxbridge.cli.ping import as_json, describe
from toxbridge.config import Endpoint
from toxbridge.wire.protocol import Pong

ENDPOINT = Endpoint("tcp://127.0.0.1:9876")


def test_an_idle_server() -> None:
    pong = Pong("p-1", 1000.0, "0.1.0", 1, (), 0)
    assert describe(pong, 0.00042, ENDPOINT, now=1000.2) == (
        "server      toxbridge 0.1.0 (protocol 1) at tcp://127.0.0.1:9876\n"
        "round trip  0.42 ms\n"
        "running     nothing\n"
        "queued      0 runs"
    )


def test_a_running_run_with_its_arguments_and_time_and_a_queue() -> None:
    run = {"id": "ab12-3", "args": ["-e", "py", "--", "-k", "a b"], "pid": 77,
           "started": 1000.0 - 754.0, "client": "0a1b2c3d"}  # fmt: skip
    pong = Pong("p-1", 1000.0, "0.1.0", 1, (run,), 1)
    lines = describe(pong, 0.001, ENDPOINT, now=1000.0).splitlines()
    assert lines[2:] == [
        "running     tox -e py -- -k 'a b'",
        "            run ab12-3, pid 77, for 12 min 34 s, client 0a1b2c3d",
        "queued      1 run",
    ]


def test_a_run_not_yet_started_and_a_clock_that_differs() -> None:
    run = {"id": "x-1", "args": ["-e", "py"], "pid": None, "started": None, "client": "c"}
    pong = Pong("p-1", 1000.0, "0.1.0", 1, (run,), 0)
    lines = describe(pong, 0.001, ENDPOINT, now=1000.0 - 3 * 3600 - 120).splitlines()
    assert lines[2] == "clock       10920.0 s ahead of ours"
    assert lines[4] == "            run x-1, starting, client c"


def test_json_keeps_the_old_keys() -> None:
    pong = Pong("p-1", 1000.0, "0.1.0", 1, (), 2)
    assert as_json(pong, 0.0012345) == {
        "time": 1000.0, "version": "0.1.0", "protocol": 1, "running": [], "queued": 2,
        "rtt_ms": 1.234,
    }  # fmt: skip
