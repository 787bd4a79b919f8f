"""The sample project of the terminal tests: tests for pdb, breakpoint(), input() and
SIGWINCH, and envs for `tox p`, stdin and bulk output. Written out by `make_tty_project`
(kept as text here so that this suite's pytest does not collect its tests)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import HELPERS

FILES = {
    "ask.py": """\
import os
import sys

print(f"stdin tty {sys.stdin.isatty()}, stdout tty {sys.stdout.isatty()}", flush=True)
print(f"name? ", end="", flush=True)
print(f"hello {sys.stdin.readline().strip()}", flush=True)
""",
    "keep.py": """\
\"\"\"Survives a ^C (says so), then reads a line.\"\"\"
import signal
import sys

signal.signal(signal.SIGINT, lambda *_: print("interrupted", flush=True))
print("ready", flush=True)
print(f"line {sys.stdin.readline().strip()!r}", flush=True)
""",
    "raw.py": """\
\"\"\"Puts its terminal in raw mode (no signals from keys) and reads one key.\"\"\"
import os
import termios
import tty

saved = termios.tcgetattr(0)
tty.setraw(0)
try:
    print("raw ready", end="\\r\\n", flush=True)
    key = os.read(0, 1)
finally:
    termios.tcsetattr(0, termios.TCSADRAIN, saved)
print(f"key {key!r}", flush=True)
""",
    "slow.py": """\
\"\"\"Runs until its parallel sibling has run too, long enough for tox's spinner to redraw.\"\"\"
import time

deadline = time.monotonic() + 1.5
while time.monotonic() < deadline:
    time.sleep(0.05)  # the stimulus: a run that lasts, nothing waits on it
print("slow done")
""",
    "test_break.py": """\
def test_break():
    y = "here"
    breakpoint()
    assert y == "here"
""",
    "test_debug.py": """\
def test_fails():
    x = 41
    assert x + 1 == 43
""",
    "test_input.py": """\
def test_input():
    answer = input("answer? ")
    print(f"you said {answer}!")
""",
    "test_resize.py": """\
import os
import signal
import threading


def test_resize():
    resized = threading.Event()
    signal.signal(signal.SIGWINCH, lambda *_: resized.set())
    size = os.get_terminal_size(0)
    print(f"size {size.lines}x{size.columns}, waiting for SIGWINCH", flush=True)
    assert resized.wait(60)
    size = os.get_terminal_size(0)
    print(f"resized to {size.lines}x{size.columns}", flush=True)
""",
    "tox.ini": """\
[tox]
env_list = py
[testenv]
skip_install = true
system_site_packages = true
package = skip
commands = python -m pytest -q -p no:cacheprovider {posargs}
[testenv:a]
commands = python {toxinidir}/slow.py
[testenv:b]
commands = python {toxinidir}/slow.py
[testenv:ask]
commands = python {toxinidir}/ask.py
[testenv:wait]
commands = python {toxinidir}/wait.py
[testenv:big]
commands = python {toxinidir}/big.py {posargs:1000000}
[testenv:raw]
commands = python {toxinidir}/raw.py
[testenv:keep]
commands = python {toxinidir}/keep.py
""",
    "wait.py": """\
\"\"\"Says where it runs, then waits for a line on stdin.\"\"\"
import os
import sys

print(f"waiting pid={os.getpid()}", flush=True)
line = sys.stdin.readline()
print(f"got {line.strip()}", flush=True)
""",
}


def make_tty_project(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in FILES.items():
        (root / name).write_text(text)
    (root / "big.py").write_text((HELPERS / "big.py").read_text())
    return root
