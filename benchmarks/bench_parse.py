"""Parse rate of the diagnostics parser on a large mixed tox/pytest log.

Run: `python benchmarks/bench_parse.py [--mb 120] [--runs 5]`. The log is the committed
corpus (every pytest version and --tb style, colour, xdist, tox) plus a long stretch of
passing verbose progress and captured output, repeated until it reaches the size asked
for. It is fed in 64 KiB chunks from one reused block, so the process's peak RSS shows
the parser's memory, which must not grow with the log size.

It also gives the rate on the bridge benchmark's payload (tests/helpers/big.py's
numbered lines): output in which no line matters, which the parser skips in raw bytes.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from toxbridge.diagnostics import DiagnosticParser, PathMapper  # noqa: E402

DATA = ROOT / "tests" / "diagnostics" / "data"
CHUNK = 64 * 1024


def passing_session(tests: int) -> bytes:
    """A verbose session of passing tests whose output looks like locations."""
    lines = ["=" * 30 + " test session starts " + "=" * 30, "rootdir: /app"]
    for number in range(tests):
        percent = number * 100 // tests
        lines.append(f"tests/test_mod{number % 50}.py::test_case[{number}] PASSED  [{percent:3d}%]")
    lines.append("=" * 30 + " PASSES " + "=" * 30)
    for number in range(tests // 10):
        lines.append(f"{'_' * 20} test_case[{number}] {'_' * 20}")
        lines.append(f"{'-' * 20} Captured stdout call {'-' * 20}")
        lines.extend(f"src/foo.py:{line}: something happened {line}" for line in range(8))
    lines.append("=" * 30 + f" {tests} passed in 1.23s " + "=" * 30)
    return ("\n".join(lines) + "\n").encode()


def build_block() -> bytes:
    corpus = b"".join(path.read_bytes() for path in sorted(DATA.glob("*.log")))
    return corpus + passing_session(20000)


def noise_block() -> bytes:
    """Numbered lines as tests/helpers/big.py writes them, 2.6 MB."""
    return b"".join(b"%08d" % number + b"x" * 91 + b"\n" for number in range(26_000))


def one_run(block: bytes, target: int) -> tuple[float, int]:
    parser = DiagnosticParser(PathMapper([("/tmp/toxbridge-corpus/proj", "/local")], "/local"))
    view = memoryview(block)
    fed = found = 0
    start = time.perf_counter()
    while fed < target:
        for offset in range(0, len(block), CHUNK):
            found += len(parser.feed(bytes(view[offset : offset + CHUNK])))
        fed += len(block)
    found += len(parser.close())
    return fed / (time.perf_counter() - start) / 1e6, found


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__)
    options.add_argument("--mb", type=int, default=120, help="log size in MB (default 120)")
    options.add_argument("--runs", type=int, default=5, help="timed runs (default 5)")
    args = options.parse_args()
    block = build_block()
    target = args.mb * 1_000_000
    rates = []
    for run in range(args.runs):
        rate, found = one_run(block, target)
        rates.append(rate)
        print(f"run {run + 1}: {rate:6.1f} MB/s, {found} diagnostics")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    size = len(block) * -(-target // len(block)) / 1e6
    print(f"log: {size:.0f} MB (block of {len(block) / 1e6:.1f} MB repeated)")
    print(f"median: {statistics.median(rates):.1f} MB/s over {args.runs} runs")
    print(f"peak RSS: {peak_mb:.0f} MB")
    noise = [one_run(noise_block(), target)[0] for _ in range(args.runs)]
    print(f"big.py noise: median {statistics.median(noise):.0f} MB/s over {args.runs} runs")


if __name__ == "__main__":
    main()
