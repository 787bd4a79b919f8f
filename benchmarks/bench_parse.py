"""Parse rate of the diagnostics parser on a large mixed tox/pytest log.

Run: `python benchmarks/bench_parse.py [--mb 100] [--runs 5] [--baseline DIR]`. The log is
the committed fixture corpus (every pytest version and --tb style, colour, xdist, tox) plus
a long stretch of passing verbose progress and captured output, repeated until it reaches
the size asked for. It is fed in 64 KiB chunks from one reused block, so the process's peak
RSS shows the parser's memory, which must not grow with the log size.

It also gives the rate on the bridge benchmark's payload (tests/helpers/big.py's numbered
lines), output in which no line matters, and the time for 32 MB without a newline (a
progress bar redrawn with `\\r`, a huge repr) next to 32 MB of short lines.

With `--baseline DIR` (a checkout of another version, e.g. `git worktree add /tmp/base
main`), each measure runs in a fresh process for this tree and for DIR, alternately, and
the ratio of each pair is printed: figures taken on a busy machine still compare. Then
both parsers are loaded into one process (DIR's under another package name) and fed the
same chunks in turn, 30 times, which is steadier still on a shared machine.
"""

from __future__ import annotations

import argparse
import importlib
import json
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "diagnostics" / "data"
CHUNK = 64 * 1024
CORPUS_ROOT = "/tmp/toxbridge-corpus/proj"  # where the fixture corpus ran
LONG_MB = 32


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
    from toxbridge.diagnostics import DiagnosticParser, PathMapper

    parser = DiagnosticParser(PathMapper([(CORPUS_ROOT, "/local")], "/local"))
    view = memoryview(block)
    fed = found = 0
    start = time.perf_counter()
    while fed < target:
        for offset in range(0, len(block), CHUNK):
            found += len(parser.feed(bytes(view[offset : offset + CHUNK])))
        fed += len(block)
    found += len(parser.close())
    return fed / (time.perf_counter() - start) / 1e6, found


def long_line_seconds(newlines: bool) -> float:
    """32 MB in 64 KiB chunks, with no newline at all or as 100-byte lines."""
    from toxbridge.diagnostics import DiagnosticParser

    chunk = (b"x" * 99 + b"\n") * (CHUNK // 100) if newlines else b"x" * CHUNK
    parser = DiagnosticParser()
    start = time.perf_counter()
    for _ in range(LONG_MB * 1024 * 1024 // CHUNK):
        parser.feed(chunk)
    parser.close()
    return time.perf_counter() - start


def measure(mb: int) -> dict[str, float]:
    rate, found = one_run(build_block(), mb * 1_000_000)
    return {
        "mixed": rate,
        "found": found,
        "noise": one_run(noise_block(), mb * 1_000_000)[0],
        "no_newline_s": long_line_seconds(newlines=False),
        "lines_s": long_line_seconds(newlines=True),
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def in_process(tree: Path, mb: int) -> dict[str, float]:
    command = [sys.executable, __file__, "--worker", str(tree), "--mb", str(mb)]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    result: dict[str, float] = json.loads(done.stdout)
    return result


def load_as(tree: Path, name: str, into: Path) -> ModuleType:
    """`tree`'s toxbridge.diagnostics imported as package `name` (its imports renamed)."""
    target = into / name / "diagnostics"
    shutil.copytree(tree / "toxbridge" / "diagnostics", target)
    (into / name / "__init__.py").write_text("", encoding="utf-8")
    for path in target.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        path.write_text(re.sub(r"\btoxbridge\.", f"{name}.", text), encoding="utf-8")
    sys.path.insert(0, str(into))
    return importlib.import_module(f"{name}.diagnostics")


def alternate(baseline: Path, block: bytes, turns: int = 30) -> float:
    """Median of the rate ratios (this tree / baseline), both parsers in this process."""
    import toxbridge.diagnostics as ours

    chunks = [block[offset : offset + CHUNK] for offset in range(0, len(block), CHUNK)]
    with tempfile.TemporaryDirectory() as scratch:
        base = load_as(baseline, "tb_baseline", Path(scratch))

        def seconds(module: ModuleType) -> float:
            parser = module.DiagnosticParser(module.PathMapper([(CORPUS_ROOT, "/local")], "/local"))
            start = time.process_time()
            for chunk in chunks:
                parser.feed(chunk)
            parser.close()
            return time.process_time() - start

        ratios = []
        for turn in range(turns):
            pair = (ours, base) if turn % 2 else (base, ours)
            times = {module: seconds(module) for module in pair}
            ratios.append(times[base] / times[ours])
    return statistics.median(ratios)


def report(label: str, runs: list[dict[str, float]]) -> None:
    def median(key: str) -> float:
        return statistics.median(run[key] for run in runs)

    print(
        f"{label}: mixed log {median('mixed'):.1f} MB/s ({int(median('found'))} diagnostics), "
        f"big.py noise {median('noise'):.0f} MB/s, peak RSS {median('peak_mb'):.0f} MB; "
        f"{LONG_MB} MB without a newline {median('no_newline_s'):.3f} s "
        f"vs as lines {median('lines_s'):.3f} s"
    )


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__)
    options.add_argument("--mb", type=int, default=100, help="log size in MB (default 100)")
    options.add_argument("--runs", type=int, default=5, help="timed runs (default 5)")
    options.add_argument("--baseline", type=Path, help="another checkout to compare with")
    options.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = options.parse_args()
    if args.worker:
        sys.path.insert(0, str(args.worker))
        print(json.dumps(measure(args.mb)))
        return
    print(f"log: {args.mb} MB in {CHUNK // 1024} KiB chunks, {args.runs} runs, medians")
    ours: list[dict[str, float]] = []
    base: list[dict[str, float]] = []
    for run in range(args.runs):
        pair = [(ours, ROOT), (base, args.baseline)] if args.baseline else [(ours, ROOT)]
        for results, tree in pair if run % 2 == 0 else pair[::-1]:
            results.append(in_process(tree, args.mb))
    report("this tree", ours)
    if base:
        report("baseline", base)
        ratios = sorted(a["mixed"] / b["mixed"] for a, b in zip(ours, base, strict=True))
        noise = sorted(a["noise"] / b["noise"] for a, b in zip(ours, base, strict=True))
        print(
            f"mixed-log rate, this tree / baseline: median {statistics.median(ratios):.2f}x "
            f"({ratios[0]:.2f}-{ratios[-1]:.2f}); big.py noise {statistics.median(noise):.2f}x"
        )
        sys.path.insert(0, str(ROOT))
        mixed, quiet = (
            alternate(args.baseline, build_block()),
            alternate(args.baseline, noise_block()),
        )
        print(f"in one process, alternating: mixed log {mixed:.2f}x, big.py noise {quiet:.2f}x")


if __name__ == "__main__":
    main()
