"""Fuzz a live server with hypothesis: >= 10,000 malformed, odd and valid messages per run.

Hypothesis generates the cases a few at a time; the fuzzer sends them in batches of 500
from a raw DEALER socket (and a few through a REQ socket). After every batch the server
must still be alive, must have answered every case, must answer a ping within 100 ms,
and must carry out a real tox run.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.conftest import RunningServer, start_server
from tests.hardening.fuzzing import Fuzzer, ServerGone, cases

PER_EXAMPLE = 10  # hypothesis gives up on examples much larger than this
EXAMPLES = 1000  # 1000 x (10 DEALER + up to 1 REQ) > 10,000 cases
BATCH = 500
MIN_CASES = 10_000


@pytest.fixture(scope="module")
def fuzz_server(project: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    log = tmp_path_factory.mktemp("fuzz") / "server.log"
    server = start_server(project, log, "--sigint-grace", "1")
    try:
        yield server
    finally:
        server.stop()


def _check_alive(server: RunningServer) -> None:
    if server.process.poll() is not None:
        tail = server.log.read_text(errors="replace")[-4000:]
        raise ServerGone(f"the server died (status {server.process.returncode}):\n{tail}")


@pytest.mark.timeout(300)
def test_fuzz_the_live_server(fuzz_server: RunningServer) -> None:
    fuzzer = Fuzzer(
        fuzz_server.endpoint,
        zmq.Context.instance(),
        BATCH,
        check_alive=lambda: _check_alive(fuzz_server),
    )
    failures: list[AssertionError] = []

    # Batches span examples, so hypothesis can neither shrink nor replay a failure: the
    # first one is kept, the remaining examples do nothing, and it is raised at the end
    # with the server's log, which names the culprit.
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        phases=(Phase.generate,),
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(
        st.lists(cases(), min_size=PER_EXAMPLE, max_size=PER_EXAMPLE),
        st.lists(cases(), max_size=1),
    )
    def some_cases(dealer: list[list[bytes]], req: list[list[bytes]]) -> None:
        if failures:
            return
        try:
            fuzzer.feed(dealer, req)
        except AssertionError as failure:
            failures.append(failure)

    try:
        some_cases()
        if not failures:
            fuzzer.flush()
    except AssertionError as failure:
        failures.append(failure)
    finally:
        fuzzer.close()
        print(json.dumps(fuzzer.stats.summary(), indent=1))
    _check_alive(fuzz_server)
    if failures:
        raise failures[0]
    assert fuzzer.stats.cases >= MIN_CASES
    assert fuzzer.stats.batches >= MIN_CASES // BATCH
