"""The VS Code extension end to end, in a real VS Code.

Real parts only: `toxbridge serve` rooted in a sample project with a failing test, the
built .vsix installed into code-server 4.100.3, the extension launching the real
`toxbridge lsp`, real tox and pytest, and Debian's headless Chromium driven by
playwright-core (`vscode-extension/e2e/drive.ts`). `bash .ci/vscode.sh` installs and
builds all of it. Set TOXBRIDGE_SKIP_VSCODE_E2E=1 to skip; a missing piece otherwise fails.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.editors.vscode_harness import (
    ARTIFACTS,
    CHROMIUM,
    code_server_running,
    drive,
    install_extension,
    make_profile,
    output_channel_logs,
    require_prerequisites,
    stop_group,
    toxbridge_serve,
    wait_for_exit,
    workspace_settings,
)

FAILING_LINE = 7
SLOW_MARKER = "SLOW-TEST-STARTED"
SLOW_FINISHED = "SLOW-TEST-FINISHED"

TOX_INI = """\
[tox]
env_list = py

[testenv]
skip_install = true
system_site_packages = true
commands = python -m pytest {posargs}

[pytest]
testpaths = tests
addopts = -s -p no:cacheprovider --color=yes
"""

TEST_SAMPLE = f"""\
def test_passes():
    assert 1 + 1 == 2


def test_fails():
    total = 1 + 1
    assert total == 3, "1 + 1 should be 3"  # line {FAILING_LINE}
"""

# Outside `testpaths`: only "Run tox on current file" runs it. It records its pid, says it
# has started, and waits until it is interrupted.
SLOW_TEST = f"""\
import os
import threading
from pathlib import Path


def test_waits_until_cancelled():
    Path(__file__).with_name("slow.pid").write_text(str(os.getpid()))
    print("{SLOW_MARKER}", flush=True)
    threading.Event().wait()
    print("{SLOW_FINISHED}", flush=True)
"""

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def make_project(root: Path) -> Path:
    (root / "tests").mkdir(parents=True)
    (root / "slow").mkdir()
    (root / "tox.ini").write_text(TOX_INI)
    (root / "tests" / "test_sample.py").write_text(TEST_SAMPLE)
    (root / "slow" / "test_slow.py").write_text(SLOW_TEST)
    return root


def test_run_problems_output_and_cancel_in_code_server(tmp_path: Path) -> None:
    code_server = require_prerequisites()
    project = make_project(tmp_path / "project")
    dirs = make_profile(tmp_path)
    ARTIFACTS.mkdir(exist_ok=True)
    for stale in ARTIFACTS.glob("vscode-*.png"):
        stale.unlink()
    result_file = tmp_path / "drive.json"

    install_extension(code_server, dirs)
    base_config = {
        "folder": str(project),
        "slowFile": "slow/test_slow.py",
        "slowMarker": SLOW_MARKER,
        "artifacts": str(ARTIFACTS),
        "chromium": str(CHROMIUM),
        "runTimeoutMs": 120_000,
    }
    with (
        toxbridge_serve(project, tmp_path / "serve.log") as (endpoint, serve),
        code_server_running(code_server, dirs, project, tmp_path / "code-server.log") as url,
    ):
        # Colours on, so the Output channel must really strip ANSI codes. No code lenses:
        # their requests run `tox l` on the server when a file opens or results change, and
        # this test's Ping expects an idle server (lenses have tests of their own).
        extra = {"toxbridge.toxArgs": ["--colored", "yes"], "toxbridge.codeLens": False}
        settings_file = workspace_settings(project, endpoint, **extra)
        base_config["settingsFile"] = str(settings_file)
        driven = drive(url, base_config, phase="run", result=result_file)
        stop_group(serve)
        unreachable = drive(url, base_config, phase="unreachable", result=tmp_path / "down.json")
    channel = output_channel_logs(dirs["user"])

    completed, seen = driven
    report = (
        f"driver exit {completed.returncode}\n{completed.stderr}\n"
        f"result: {json.dumps(seen, indent=2)}\noutput channel:\n{channel}"
    )
    assert completed.returncode == 0, report
    assert seen.get("error") is None, report

    # the progress notification, with a Cancel button
    assert "Running tox" in seen["progressTitle"], report
    assert seen["progressHadCancel"], report
    assert "failed" in seen["statusAfterRun"], report

    # the failure in the Problems panel, at the right file and line
    problems = seen["problemsText"]
    assert "test_sample.py" in problems, report
    assert re.search(rf"\[Ln {FAILING_LINE}, Col \d+\]", problems), report
    assert "test_fails" in problems, report
    screenshot = ARTIFACTS / "vscode-problems.png"
    assert screenshot.stat().st_size > 0

    # tox's output in the Output channel, without ANSI colours
    assert "exited with code 1" in seen["outputText"], report
    assert "1 failed, 1 passed" in channel, report
    assert "commands[0]> python -m pytest" in channel, report
    assert "\x1b[" not in channel, report

    # Cancel stopped the remote run: the slow test's process is gone and never finished
    assert "cancelled" in seen["statusAfterCancel"], report
    assert "was cancelled" in seen["outputAfterCancel"], report
    slow_pid = int((project / "slow" / "slow.pid").read_text())
    assert wait_for_exit(slow_pid, timeout=30), f"pytest {slow_pid} still runs after Cancel"
    assert SLOW_MARKER in channel, report
    assert SLOW_FINISHED not in channel, report

    # Ping shows the round trip and the server's state
    assert "round trip" in seen["pingText"], report
    assert "idle" in seen["pingText"], report

    # "Run tox environment…" lists the server's envs, runs the picked one, remembers it
    assert "py" in seen["envPickRows"], report
    assert "Running tox -e py" in seen["envRunTitle"], report
    assert seen["envPickRemembered"], report

    # with the server stopped: one actionable error, whose button opens the output
    completed, down = unreachable
    report = f"driver exit {completed.returncode}\n{completed.stderr}\n{json.dumps(down, indent=2)}"
    assert completed.returncode == 0, report
    assert endpoint.split("//")[1] in down["errorText"], report
    assert "Show output" in down["errorText"], report
    assert down["errorToasts"] == 1, report
    assert down["outputShownByButton"], report

    # changing a launch setting restarts the bridge
    assert "launch settings changed" in down["restartLog"], report
