"""Start-up benchmark: the `toxbridge` command line against tox-server's and `python -c pass`.

Run: `python benchmarks/bench_startup.py [--rounds N]`. It installs tox-server 0.6.0 from
PyPI into a throwaway venv under /tmp (kept there for the next run, never committed),
writes a small tox project with an `echo` env in a temp dir, starts a `toxbridge serve`
and a `tox-server serve` on free 127.0.0.1 ports in it, and then times whole processes
from start to exit, each command of a round in turn and the order rotated every round:

- `ping`: `toxbridge ping` (found through the project's `[tool.toxbridge]`, as a
  configured project does) vs `tox-server -p PORT ping`;
- `--help`: `toxbridge --help` vs `tox-server --help`;
- `run -e echo`: `toxbridge run -e echo` vs `tox-server -p PORT run -e echo` (this one
  includes each server's tox run: toxbridge's warm worker vs tox-server's fresh tox, so it
  says what a user waits for, not what the client alone costs);
- `python -c pass` with each tool's interpreter, the floor of any Python command.

Both tools run through their console scripts with the same Python version. Figures are
medians with min and max, and ratios are per round (toxbridge / tox-server); the goal for
`ping` is at most 0.8x of tox-server's.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import free_port  # noqa: E402

BIN = Path(sys.executable).parent
TOXBRIDGE = str(BIN / "toxbridge")
TOX_SERVER_VENV = Path(tempfile.gettempdir()) / "toxbridge-bench-tox-server-0.6.0"
TOX_SERVER = str(TOX_SERVER_VENV / "bin" / "tox-server")
PING_GOAL = 0.8
TOX_INI = """\
[tox]
env_list = echo
[testenv:echo]
skip_install = true
package = skip
commands = python -c "print('echo')"
"""


def tox_server_venv() -> None:
    """tox-server 0.6.0 in its own venv, made once with the ordinary clients."""
    if Path(TOX_SERVER).exists():
        return
    print(f"installing tox-server==0.6.0 into {TOX_SERVER_VENV} ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(TOX_SERVER_VENV)], check=True)
    pip = [str(TOX_SERVER_VENV / "bin" / "python"), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, "tox-server==0.6.0"], check=True)


def wait_until(argv: Sequence[str], cwd: Path) -> None:
    """Run `argv` until it succeeds: tox-server's ping has no timeout of its own to wait on."""
    deadline = time.monotonic() + 60
    while subprocess.run(argv, cwd=cwd, capture_output=True, timeout=60).returncode != 0:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{argv} never succeeded")
        time.sleep(0.1)  # a benchmark's readiness poll, not a test's synchronisation


@contextmanager
def servers(project: Path) -> Iterator[tuple[str, str]]:
    """(toxbridge endpoint, tox-server port), both serving `project`."""
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    port = str(free_port())
    (project / "pyproject.toml").write_text(f'[tool.toxbridge]\nendpoint = "{endpoint}"\n')
    ours = subprocess.Popen(
        [TOXBRIDGE, "serve", "--endpoint", endpoint, "--root", str(project)],
        cwd=project,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    theirs = subprocess.Popen(
        [TOX_SERVER, "-p", port, "serve"],
        cwd=project,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        subprocess.run([TOXBRIDGE, "ping", "--timeout", "30"], cwd=project, check=True,
                       capture_output=True)  # fmt: skip
        wait_until([TOX_SERVER, "-p", port, "-t", "5", "ping"], project)
        for argv in (
            [TOXBRIDGE, "run", "-e", "echo"],
            [TOX_SERVER, "-p", port, "run", "-e", "echo"],
        ):
            subprocess.run(argv, cwd=project, check=True, capture_output=True)  # envs, warm-up
        yield endpoint, port
    finally:
        for process in (ours, theirs):
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def timed(argv: Sequence[str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{argv} exited {done.returncode}: {done.stderr[-500:]!r}")
    return elapsed


def measure(commands: dict[str, list[str]], project: Path, rounds: int) -> dict[str, list[float]]:
    names = list(commands)
    times: dict[str, list[float]] = {name: [] for name in names}
    for name in names:
        timed(commands[name], project)  # page cache, .pyc files
    for round_ in range(rounds):
        order = names[round_ % len(names) :] + names[: round_ % len(names)]
        for name in order:
            times[name].append(timed(commands[name], project))
    return times


def line(label: str, values: Sequence[float]) -> str:
    ms = [v * 1000 for v in values]
    return f"{label:<34} {statistics.median(ms):7.1f} ms  ({min(ms):.1f} to {max(ms):.1f})"


def ratio_line(label: str, ours: Sequence[float], theirs: Sequence[float]) -> str:
    ratios = [a / b for a, b in zip(ours, theirs, strict=True)]
    return (
        f"{label:<34} {statistics.median(ratios):7.2f}x    "
        f"({min(ratios):.2f}x to {max(ratios):.2f}x)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=21)
    args = parser.parse_args()
    tox_server_venv()
    tox_server_python = str(TOX_SERVER_VENV / "bin" / "python")
    with tempfile.TemporaryDirectory(prefix="tb-startup-") as tmp:
        project = Path(tmp)
        (project / "tox.ini").write_text(TOX_INI)
        with servers(project) as (_, port):
            commands = {
                "python -c pass (toxbridge's)": [sys.executable, "-c", "pass"],
                "python -c pass (tox-server's)": [tox_server_python, "-c", "pass"],
                "toxbridge ping": [TOXBRIDGE, "ping"],
                "tox-server ping": [TOX_SERVER, "-p", port, "ping"],
                "toxbridge --help": [TOXBRIDGE, "--help"],
                "tox-server --help": [TOX_SERVER, "--help"],
                "toxbridge run -e echo": [TOXBRIDGE, "run", "-e", "echo"],
                "tox-server run -e echo": [TOX_SERVER, "-p", port, "run", "-e", "echo"],
            }
            times = measure(commands, project, args.rounds)
    print(f"\n{args.rounds} rounds, whole processes, medians (min to max):")
    for name, values in times.items():
        print(line(name, values))
    print("\ntoxbridge / tox-server, per round:")
    for what in ("ping", "--help", "run -e echo"):
        print(ratio_line(what, times[f"toxbridge {what}"], times[f"tox-server {what}"]))
    floor = statistics.median(times["python -c pass (toxbridge's)"])
    ping = statistics.median(times["toxbridge ping"])
    print(f"\ntoxbridge ping above its interpreter's floor: {(ping - floor) * 1000:.1f} ms")
    ping_ratio = statistics.median(
        a / b for a, b in zip(times["toxbridge ping"], times["tox-server ping"], strict=True)
    )
    verdict = "met" if ping_ratio <= PING_GOAL else "NOT met"
    print(f"goal: ping <= {PING_GOAL}x of tox-server's: {verdict} ({ping_ratio:.2f}x)")
    print(f"cores: {os.cpu_count()}")


if __name__ == "__main__":
    main()
