"""Headless Neovim (Debian's 0.7.2) runs `toxbridge lsp` as a user's config would."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import RunningServer
from tests.lsp import conftest as bridge_fixtures
from tests.lsp.conftest import ALWAYS_DEF, ALWAYS_LINE, EARLY_FAIL_LINE, TOGGLE_DEF

# The bridge tests' fixtures: the shared sample project and a real server per test.
lsp_project = bridge_fixtures.lsp_project
tox_server = bridge_fixtures.tox_server

DRIVE = Path(__file__).parent / "nvim" / "drive.lua"


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("nvim") is None, reason="needs nvim (apt-get install neovim)")
@pytest.mark.timeout(90)
def test_neovim_runs_tox_and_stores_the_diagnostics(
    tox_server: RunningServer, lsp_project: Path, tmp_path: Path
) -> None:
    out = tmp_path / "seen.json"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TOXBRIDGE_")},
        "TOXBRIDGE_NVIM_ROOT": str(lsp_project),
        "TOXBRIDGE_NVIM_ENDPOINT": tox_server.endpoint,
        "TOXBRIDGE_NVIM_PYTHON": sys.executable,
        "TOXBRIDGE_NVIM_OUT": str(out),
        "XDG_STATE_HOME": str(tmp_path / "state"),  # Neovim's lsp.log goes here
    }
    nvim = subprocess.run(
        ["nvim", "--headless", "-u", "NONE", "-i", "NONE", "-c", f"luafile {DRIVE}"],
        env=env,
        cwd=lsp_project,
        capture_output=True,
        timeout=80,
    )
    seen = json.loads(out.read_text())
    assert nvim.returncode == 0, (nvim.stderr, seen)
    assert seen["result"]["exitCode"] == 1
    assert seen["progress"][0] == "begin"
    assert seen["progress"][-1] == "end"
    failing = (lsp_project / "test_early.py").as_uri()
    assert {"uri": failing, "count": 1} in seen["published"]
    [stored] = seen["diagnostics"]
    assert stored["file"] == str(lsp_project / "test_early.py")
    assert stored["lnum"] == EARLY_FAIL_LINE - 1
    assert stored["source"] == "pytest"
    assert "early failure" in stored["message"]


LENSES = Path(__file__).parent / "nvim" / "lenses.lua"


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("nvim") is None, reason="needs nvim (apt-get install neovim)")
@pytest.mark.timeout(120)
def test_neovim_shows_code_lenses_and_runs_one(
    tox_server: RunningServer, lsp_project: Path, tmp_path: Path
) -> None:
    out = tmp_path / "lenses.json"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TOXBRIDGE_")},
        "TOXBRIDGE_NVIM_ROOT": str(lsp_project),
        "TOXBRIDGE_NVIM_ENDPOINT": tox_server.endpoint,
        "TOXBRIDGE_NVIM_PYTHON": sys.executable,
        "TOXBRIDGE_NVIM_FILE": str(lsp_project / "test_toggle.py"),
        "TOXBRIDGE_NVIM_LINE": str(ALWAYS_DEF),
        "TOXBRIDGE_NVIM_OUT": str(out),
        "XDG_STATE_HOME": str(tmp_path / "state"),
    }
    nvim = subprocess.run(
        ["nvim", "--headless", "-u", "NONE", "-i", "NONE", "-c", f"luafile {LENSES}"],
        env=env,
        cwd=lsp_project,
        capture_output=True,
        timeout=110,
    )
    seen = json.loads(out.read_text())
    assert nvim.returncode == 0, (nvim.stderr, seen)
    # the lenses sit at the sample's test defs (the local scan: no discovery ran)
    assert [(lens["line"], lens["title"]) for lens in seen["before"]] == [
        (0, "▶ Run tests in file"),
        (TOGGLE_DEF - 1, "▶ Run test"),
        (ALWAYS_DEF - 1, "▶ Run test"),
    ]
    # running one ran exactly that test in the server
    ran = {entry["id"] for entry in seen["results"]}
    assert ran == {"toggle|test_toggle.py::test_always_fails"}
    assert [e["state"] for e in seen["results"]][-1] == "failed"
    # its diagnostic is in vim.diagnostic, and its lens shows the result
    [stored] = seen["diagnostics"]
    assert stored["file"] == str(lsp_project / "test_toggle.py")
    assert stored["lnum"] == ALWAYS_LINE - 1
    after = [(lens["line"], lens["title"]) for lens in seen["after"]]
    assert any(line == ALWAYS_DEF - 1 and title.startswith("✗ failed") for line, title in after)
