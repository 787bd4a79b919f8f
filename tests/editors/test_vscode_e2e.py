"""The VS Code extension end to end, in a real VS Code.

Real parts only: `toxbridge serve` rooted in a sample project with a failing test, the
built .vsix installed into code-server 4.100.3, the extension launching the real
`toxbridge lsp`, real tox and pytest, and Debian's headless Chromium driven by
playwright-core (`vscode-extension/e2e/drive.ts`). `bash .ci/vscode.sh` installs and
builds all of it. Set TOXBRIDGE_SKIP_VSCODE_E2E=1 to skip; a missing piece otherwise fails.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import wait_serving

REPO = Path(__file__).resolve().parents[2]
EXTENSION = REPO / "vscode-extension"
VSIX = EXTENSION / "toxbridge.vsix"
DRIVER = EXTENSION / "out" / "e2e" / "drive.js"
ARTIFACTS = REPO / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
SKIP_VARIABLE = "TOXBRIDGE_SKIP_VSCODE_E2E"
SETUP_HINT = "run `bash .ci/vscode.sh` (or set TOXBRIDGE_SKIP_VSCODE_E2E=1 to skip this test)"

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

USER_SETTINGS = {
    "security.workspace.trust.enabled": False,
    "workbench.startupEditor": "none",
    "workbench.tips.enabled": False,
    "workbench.enableExperiments": False,
    "telemetry.telemetryLevel": "off",
    "update.mode": "none",
    "extensions.autoCheckUpdates": False,
    "extensions.autoUpdate": False,
    "extensions.ignoreRecommendations": True,
    "git.enabled": False,
}

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def child_env() -> dict[str, str]:
    """This environment, with the checkout importable and the outer pytest's knobs removed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def require_prerequisites() -> str:
    """Returns code-server's path; fails (not skips) when something is missing."""
    if os.environ.get(SKIP_VARIABLE) == "1":
        pytest.skip(f"{SKIP_VARIABLE}=1")
    code_server = shutil.which("code-server")
    missing = [
        what
        for what, present in [
            ("code-server on PATH", code_server is not None),
            (f"Chromium at {CHROMIUM}", CHROMIUM.exists()),
            ("node on PATH", shutil.which("node") is not None),
            (f"the packaged extension {VSIX}", VSIX.exists()),
            (f"the compiled driver {DRIVER}", DRIVER.exists()),
        ]
        if not present
    ]
    if missing:
        pytest.fail(f"missing {', '.join(missing)}: {SETUP_HINT}")
    sources = [*EXTENSION.glob("src/*.ts"), EXTENSION / "package.json"]
    newer = [path.name for path in sources if path.stat().st_mtime > VSIX.stat().st_mtime]
    if newer:
        pytest.fail(f"{VSIX.name} is older than {', '.join(newer)}: {SETUP_HINT}")
    assert code_server is not None
    return code_server


def make_project(root: Path) -> Path:
    (root / "tests").mkdir(parents=True)
    (root / "slow").mkdir()
    (root / "tox.ini").write_text(TOX_INI)
    (root / "tests" / "test_sample.py").write_text(TEST_SAMPLE)
    (root / "slow" / "test_slow.py").write_text(SLOW_TEST)
    return root


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the child's whole process group, then SIGKILL; always reaped."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=15)


@contextlib.contextmanager
def toxbridge_serve(root: Path, log: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    toxbridge = [sys.executable, "-m", "toxbridge"]
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            [*toxbridge, "-l", "info", "serve", "--endpoint", endpoint, "--root", str(root)],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=child_env(),
            start_new_session=True,
        )
    try:
        try:
            wait_serving(endpoint)  # a ping that waits for the server to listen
        except Exception as error:
            raise AssertionError(f"server did not start: {error}\n{log.read_text()}") from None
        yield endpoint, process
    finally:
        stop_group(process)


def install_extension(code_server: str, dirs: dict[str, Path]) -> None:
    installed = subprocess.run(
        [code_server, *profile_args(dirs), "--install-extension", str(VSIX), "--force"],
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=120,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    assert "successfully installed" in installed.stdout, installed.stdout


def profile_args(dirs: dict[str, Path]) -> list[str]:
    return [
        "--user-data-dir",
        str(dirs["user"]),
        "--extensions-dir",
        str(dirs["extensions"]),
        "--config",
        str(dirs["config"]),
    ]


@contextlib.contextmanager
def code_server_running(
    code_server: str, dirs: dict[str, Path], folder: Path, log: Path
) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [
            code_server,
            "--bind-addr",
            f"127.0.0.1:{port}",
            "--auth",
            "none",
            "--disable-telemetry",
            "--disable-update-check",
            "--disable-workspace-trust",
            *profile_args(dirs),
            str(folder),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=child_env(),
        start_new_session=True,  # setsid: its file watcher outlives the main process
    )
    listening = threading.Event()

    def tee() -> None:
        assert process.stdout is not None
        with log.open("wb") as log_file:
            for line in process.stdout:
                log_file.write(line)
                log_file.flush()
                if b"HTTP server listening on" in line:
                    listening.set()

    reader = threading.Thread(target=tee, daemon=True)
    reader.start()
    try:
        assert listening.wait(timeout=90), f"code-server did not start:\n{log.read_text()}"
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_group(process)
        reader.join(timeout=15)
        if process.stdout is not None:
            process.stdout.close()


def wait_for_exit(pid: int, timeout: float) -> bool:
    """True once `pid` has exited (a pidfd becomes readable then), False on timeout."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        readable, _, _ = select.select([fd], [], [], timeout)
        return bool(readable)
    finally:
        os.close(fd)


def drive(
    url: str, config: dict[str, object], *, phase: str, result: Path
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """Runs the browser driver for one phase; returns its process and what it saw."""
    completed = subprocess.run(
        [
            "node",
            str(DRIVER),
            json.dumps({**config, "url": url, "phase": phase, "result": str(result)}),
        ],
        capture_output=True,
        text=True,
        timeout=200,
        env=child_env(),
    )
    seen: dict[str, Any] = json.loads(result.read_text()) if result.exists() else {}
    return completed, seen


def output_channel_logs(user_data: Path) -> str:
    """What the extension wrote to its Output channel: VS Code keeps it in a log file."""
    files = sorted(user_data.glob("logs/**/output_logging_*/*toxbridge*.log"))
    return "".join(path.read_text(errors="replace") for path in files)


def test_run_problems_output_and_cancel_in_code_server(tmp_path: Path) -> None:
    code_server = require_prerequisites()
    project = make_project(tmp_path / "project")
    dirs = {name: tmp_path / name for name in ("user", "extensions")}
    for path in dirs.values():
        path.mkdir()
    dirs["config"] = tmp_path / "code-server.yaml"
    dirs["config"].write_text("bind-addr: 127.0.0.1:0\nauth: none\ncert: false\n")
    (dirs["user"] / "User").mkdir()
    (dirs["user"] / "User" / "settings.json").write_text(json.dumps(USER_SETTINGS, indent=2))
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
        (project / ".vscode").mkdir()
        workspace_settings = {
            "toxbridge.command": [sys.executable, "-m", "toxbridge", "lsp"],
            "toxbridge.endpoint": endpoint,
            # colours on, so the Output channel must really strip ANSI codes
            "toxbridge.toxArgs": ["--colored", "yes"],
        }
        settings_file = project / ".vscode" / "settings.json"
        settings_file.write_text(json.dumps(workspace_settings))
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
