"""What the VS Code end-to-end tests share: code-server with a fresh profile and the built
.vsix, a real `toxbridge serve`, and the browser driver (`vscode-extension/e2e/drive.ts`).
`bash .ci/vscode.sh` installs and builds all of it.
"""

from __future__ import annotations

import contextlib
import json
import os
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
    sources = [
        *EXTENSION.glob("src/**/*.ts"),
        *EXTENSION.glob("e2e/*.ts"),
        EXTENSION / "package.json",
    ]
    newer = [path.name for path in sources if path.stat().st_mtime > VSIX.stat().st_mtime]
    if newer:
        pytest.fail(f"{VSIX.name} is older than {', '.join(newer)}: {SETUP_HINT}")
    assert code_server is not None
    return code_server


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


def make_profile(tmp_path: Path, **user_settings: object) -> dict[str, Path]:
    """A fresh code-server profile (user data, extensions, config) under tmp_path."""
    dirs = {name: tmp_path / name for name in ("user", "extensions")}
    for path in dirs.values():
        path.mkdir()
    dirs["config"] = tmp_path / "code-server.yaml"
    dirs["config"].write_text("bind-addr: 127.0.0.1:0\nauth: none\ncert: false\n")
    (dirs["user"] / "User").mkdir()
    settings = {**USER_SETTINGS, **user_settings}
    (dirs["user"] / "User" / "settings.json").write_text(json.dumps(settings, indent=2))
    return dirs


def workspace_settings(project: Path, endpoint: str, **extra: object) -> Path:
    """The workspace's .vscode/settings.json: this interpreter's bridge and the endpoint."""
    (project / ".vscode").mkdir(exist_ok=True)
    settings = {
        "toxbridge.command": [sys.executable, "-m", "toxbridge", "lsp"],
        "toxbridge.endpoint": endpoint,
        **extra,
    }
    settings_file = project / ".vscode" / "settings.json"
    settings_file.write_text(json.dumps(settings))
    return settings_file
