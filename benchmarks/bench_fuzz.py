"""Fuzz benchmark: many more hypothesis cases than the test suite, against one live server.

Run: `python benchmarks/bench_fuzz.py [--cases N] [--batch N] [--cold]`. Builds the
tests' sample project in a temp dir, starts a real `toxbridge serve` on a free 127.0.0.1
port, and feeds it hypothesis-generated multipart messages from raw DEALER and REQ
sockets (tests/hardening/fuzzing.py). After every batch: the server must be alive,
answer a ping within 100 ms and carry out a real tox run. Reports cases tried, server
deaths (must be 0), error replies by code and ping-after-batch latency (max, median).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import zmq  # noqa: E402
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tests.conftest import RunningServer, create_envs, make_project, start_server  # noqa: E402
from tests.hardening.fuzzing import Fuzzer, ServerGone, cases  # noqa: E402

PER_EXAMPLE = 10


def prepare(root: Path) -> Path:
    return create_envs(make_project(root / "project"), "exit")


def fuzz(server: RunningServer, total: int, batch: int) -> tuple[Fuzzer, str | None]:
    def check_alive() -> None:
        if server.process.poll() is not None:
            raise ServerGone(f"server died with status {server.process.returncode}")

    fuzzer = Fuzzer(server.endpoint, zmq.Context.instance(), batch, check_alive=check_alive)
    failure: list[str] = []

    @settings(
        max_examples=total // PER_EXAMPLE + 1,
        deadline=None,
        database=None,
        phases=(Phase.generate,),
        suppress_health_check=list(HealthCheck),
    )
    @given(
        st.lists(cases(), min_size=PER_EXAMPLE, max_size=PER_EXAMPLE),
        st.lists(cases(), max_size=1),
    )
    def some_cases(dealer: list[list[bytes]], req: list[list[bytes]]) -> None:
        if not failure:
            try:
                fuzzer.feed(dealer, req)
            except AssertionError as error:
                failure.append(str(error)[:2000])

    some_cases()
    if not failure:
        try:
            fuzzer.flush()
        except AssertionError as error:
            failure.append(str(error)[:2000])
    fuzzer.close()
    return fuzzer, failure[0] if failure else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--cases", type=int, default=100_000, help="default %(default)d")
    parser.add_argument("--batch", type=int, default=1000, help="default %(default)d")
    parser.add_argument("--cold", action="store_true", help="serve with --cold (exec per run)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-fuzz-") as tmp:
        project = prepare(Path(tmp))
        extra = ["--sigint-grace", "1", *(["--cold"] if args.cold else [])]
        server = start_server(project, Path(tmp) / "server.log", *extra)
        started = time.perf_counter()
        try:
            fuzzer, failure = fuzz(server, args.cases, args.batch)
        finally:
            deaths = int(server.process.poll() is not None)
            server.stop()
        seconds = time.perf_counter() - started
        if failure:
            print(Path(tmp, "server.log").read_text(errors="replace")[-3000:], file=sys.stderr)
    stats = fuzzer.stats
    pings = [value * 1000 for value in stats.ping_after_batch_s]
    report = {
        "server": "cold" if args.cold else "warm",
        "cases": stats.cases,
        "batches": stats.batches,
        "seconds": round(seconds, 1),
        "server_deaths": deaths,
        "failure": failure,
        "error_replies_by_code": dict(sorted(stats.errors.items())),
        "replies_by_kind": dict(sorted(stats.replies.items())),
        "runs_started": stats.runs_started,
        "ping_after_batch_ms": {
            "max": round(max(pings), 3) if pings else None,
            "median": round(statistics.median(pings), 3) if pings else None,
        },
        "real_run_after_batch_s_median": round(statistics.median(stats.real_run_s), 3)
        if stats.real_run_s
        else None,
    }
    print(json.dumps(report, indent=2))
    if failure or deaths:
        sys.exit(1)


if __name__ == "__main__":
    main()
