"""The README's quick start, as written: `toxbridge run --local -c examples/quickstart` runs
the bundled project's tests through a private server and exits with tox's code."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tests.conftest import toxbridge

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "quickstart"


def test_the_quick_start_shows_the_deliberate_failure(tmp_path: Path) -> None:
    # a copy, so the checkout gets no .tox; the layout below it is the checkout's
    shutil.copytree(EXAMPLE, tmp_path / "examples" / "quickstart")
    done = subprocess.run(
        toxbridge("run", "--local", "-c", "examples/quickstart"),
        cwd=tmp_path,
        # as a user runs it: without the suite's TOX_OVERRIDE (tests/conftest.py), which
        # would put this interpreter's pytest beside the one the env installs
        env={k: v for k, v in os.environ.items() if k != "TOX_OVERRIDE"},
        capture_output=True,
        text=True,
        timeout=300,  # the env's first pip install of pytest
    )
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    assert "1 failed, 2 passed" in done.stdout
    assert "test_cart.py:17: AssertionError" in done.stdout
    assert done.stderr.startswith("toxbridge: a private server for this run (--local) at ipc://")
