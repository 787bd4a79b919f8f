"""The Testing view end to end, in a real VS Code (code-server 4.100.3 + headless Chromium).

A real `toxbridge serve` rooted in a copy of the project elsewhere than the workspace (as a
container's /src would be), the built .vsix, the real `toxbridge lsp`, tox and pytest: the
Test Explorer shows the tree the server collected under its env (a file that does not
import as an errored item), running one failing test
from its row marks exactly it failed, and Test Results shows its message and the diff of
the compared values; Cancel stops a running test's process in the server; a `toxbridge run`
in a terminal shows up as a run of its own; with continuous run on, saving the fix reruns
the test. Set TOXBRIDGE_SKIP_VSCODE_E2E=1 to skip.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from tests.editors.vscode_harness import (
    CHROMIUM,
    code_server_running,
    drive,
    install_extension,
    make_profile,
    output_channel_logs,
    require_prerequisites,
    toxbridge_serve,
    wait_for_exit,
    workspace_settings,
)

TOX_INI = """\
[tox]
env_list = py

[testenv]
skip_install = true
system_site_packages = true
commands = python -m pytest {posargs}

[pytest]
testpaths = tests
addopts = -p no:cacheprovider
"""

# test_passes leaves a mark in the server's copy each time it runs
TEST_SAMPLE = """\
from pathlib import Path


def test_passes():
    Path(__file__).with_name("passes.ran").touch()
    assert 1 + 1 == 2


def test_fails():
    total = 1 + 1
    assert total == 3
"""
FAILING_LINE = 11
FIXED_LINE = "    assert total == 2"

# It records its pid and waits until it is stopped.
TEST_SLOW = """\
import os
import threading
from pathlib import Path


def test_waits():
    Path(__file__).with_name("slow.pid").write_text(str(os.getpid()))
    threading.Event().wait()
"""

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def make_project(root: Path) -> Path:
    (root / "tests").mkdir(parents=True)
    (root / "tox.ini").write_text(TOX_INI)
    (root / "tests" / "test_sample.py").write_text(TEST_SAMPLE)
    (root / "tests" / "test_slow.py").write_text(TEST_SLOW)
    (root / "tests" / "test_broken.py").write_text("import not_a_module\n")
    return root


def test_testing_view_runs_one_test_and_shows_its_diff(tmp_path: Path) -> None:
    code_server = require_prerequisites()
    project = make_project(tmp_path / "project")
    # the server's copy, as in a container: paths come back mapped onto the workspace
    container = tmp_path / "container" / "src"
    shutil.copytree(project, container)
    dirs = make_profile(tmp_path)
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    install_extension(code_server, dirs)
    config = {
        "folder": str(project),
        "artifacts": str(artifacts),
        "chromium": str(CHROMIUM),
        "runTimeoutMs": 120_000,
        "expand": ["py", "tests", "test_sample.py", "test_slow.py"],
        "testFile": "tests/test_sample.py",
        "failingTest": "test_fails",
        "failureMessage": "assert 2 == 3",
        "passingTest": "test_passes",
        "slowTest": "test_waits",
        "slowPidFile": str(container / "tests" / "slow.pid"),
        "passingMarkFile": str(container / "tests" / "passes.ran"),
    }
    with (
        toxbridge_serve(container, tmp_path / "serve.log") as (endpoint, _serve),
        code_server_running(code_server, dirs, project, tmp_path / "code-server.log") as url,
    ):
        config["settingsFile"] = str(workspace_settings(project, endpoint))
        # Without a terminal on stderr `toxbridge run` asks for test events only when it
        # writes a report log; the Testing view's results come from those events.
        report_log = tmp_path / "terminal-report.jsonl"
        toxbridge = [sys.executable, "-m", "toxbridge", "--endpoint", endpoint]
        terminal = [
            "run",
            "--report-log",
            str(report_log),
            "-e",
            "py",
            "--",
            "tests/test_sample.py",
        ]
        config["terminal"] = [*toxbridge, *terminal]
        config["serverTestFile"] = str(container / "tests" / "test_sample.py")
        config["fix"] = [FAILING_LINE, FIXED_LINE]
        completed, seen = drive(url, config, phase="testing", result=tmp_path / "drive.json")
    channel = output_channel_logs(dirs["user"])
    report = (
        f"driver exit {completed.returncode}\n{completed.stderr}\n"
        f"result: {json.dumps(seen, indent=2)}\noutput channel:\n{channel}\n"
        f"server log:\n{(tmp_path / 'serve.log').read_text(errors='replace')}"
    )
    assert completed.returncode == 0, report
    assert seen.get("error") is None, report
    testing = seen["testing"]

    # the tree the server collected, under its env
    rows = testing["rows"]
    assert rows[:2] == ["py", "  tests"], report
    sample = ["    test_sample.py", "      test_passes", "      test_fails"]
    slow = ["    test_slow.py", "      test_waits"]
    broken = ["    test_broken.py", "      (error)"]  # expanded, its error under it
    assert sorted(rows[2:]) == sorted([*sample, *slow, *broken]), report
    assert "No module named 'not_a_module'" in testing["collectionError"], report

    # exactly the test that ran is failed; its neighbour was not run
    assert testing["failedState"] == "failed", report
    assert testing["otherState"] == "unset", report

    # the failure's message, with the compared values as a diff (expected | actual)
    assert "assert 2 == 3" in testing["peekMessage"], report
    assert testing["diffOriginal"] == "3", report
    assert testing["diffModified"] == "2", report

    screenshot = Path(testing["screenshot"])
    assert screenshot.parent == artifacts
    assert screenshot.stat().st_size > 0

    # Cancel in the Testing view stopped the slow test's process in the server
    assert "cancelled" in testing["statusAfterCancel"], report
    slow_pid = int((container / "tests" / "slow.pid").read_text())
    assert wait_for_exit(slow_pid, timeout=30), f"pytest {slow_pid} still runs after Cancel"

    # a `toxbridge run` in a terminal: its results reach the view, as a run of its own
    assert testing["terminalExit"] == 1, report
    assert testing["stateAfterTerminal"] == "passed", report
    name = "tox -e py -- tests/test_sample.py (elsewhere)"
    assert testing["resultRuns"][0] == name, report

    # the editor's gutter: an icon for the file and for each of its two tests; the failed
    # test's and the file's show failed
    assert testing["gutterIcons"] == 3, report
    assert testing["gutterFailed"] == 2, report

    # "Run Test at Cursor" in the editor's context menu ran exactly that test in the server
    assert "Run Test at Cursor" in testing["contextMenu"], report
    server_log = (tmp_path / "serve.log").read_text(errors="replace")
    at_cursor = f"('-e', 'py', '--', '{container / 'tests' / 'test_sample.py'}::test_passes')"
    assert at_cursor in server_log, report

    # continuous run on the file: saving the fix reruns it, and the test passes
    assert testing["stateAfterSave"] == "passed", report
    assert (project / "tests" / "test_sample.py").read_text().splitlines()[
        FAILING_LINE - 1
    ] == FIXED_LINE
