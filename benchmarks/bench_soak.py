"""Soak benchmark: 500 back-to-back `toxbridge run` subprocesses against one server.

Run: `python benchmarks/bench_soak.py [--runs N] [--cold]`. Per 10 runs: 6 with an exit
code, 2 checking output, 1 cancelled (SIGINT to the client or `toxbridge cancel`), 1
whose client is SIGKILLed mid-run (tests/hardening/soak.py). Reports the server's open
fds and RSS after a 5-run warm-up and at the end (growth must be < 5 %), processes
left below the server (must be none), failed runs (must be none) and run times.
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

from bench_fuzz import prepare  # noqa: E402

from tests.conftest import start_server  # noqa: E402
from tests.hardening.soak import SERVER_OPTIONS, Soak  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=500, help="default %(default)d")
    parser.add_argument("--cold", action="store_true", help="serve with --cold (exec per run)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-soak-") as tmp:
        project = prepare(Path(tmp))
        extra = [*SERVER_OPTIONS, *(["--cold"] if args.cold else [])]
        server = start_server(project, Path(tmp) / "server.log", *extra)
        started = time.perf_counter()
        try:
            report = Soak(server).run(args.runs)
            alive = server.process.poll() is None
        finally:
            server.stop()
    seconds = time.perf_counter() - started
    assert report.start is not None
    assert report.end is not None
    fd_growth, rss_growth = report.growth()
    leftovers = sorted(report.leftovers())
    ok = alive and not report.failures and not leftovers and max(fd_growth, rss_growth) < 0.05
    print(
        json.dumps(
            {
                "server": "cold" if args.cold else "warm",
                "runs": dict(report.runs),
                "seconds": round(seconds, 1),
                "server_alive_at_end": alive,
                "failed_runs": report.failures[:20],
                "fds": [report.start.fds, report.end.fds, f"{fd_growth:+.1%}"],
                "rss_kib": [report.start.rss_kib, report.end.rss_kib, f"{rss_growth:+.1%}"],
                "leftover_processes": leftovers,
                "median_s_by_kind": {
                    kind: round(statistics.median(values), 3)
                    for kind, values in sorted(report.durations.items())
                },
                "verdict": "pass" if ok else "FAIL",
            },
            indent=2,
        )
    )
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
