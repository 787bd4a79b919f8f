"""The command line as a user runs it, against a real `toxbridge serve` running real tox:
where options go, what pyproject.toml sets, what ping and cancel print, and exit codes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import RunningServer, create_envs, free_port, start_server, toxbridge
from tests.core.test_runs import wait_for_ready
from toxbridge.errors import ConfigError, ConnectionLost, RemoteError, ServerUnreachable

SHOW_TOX_INI = """\
[tox]
env_list = show
[testenv:show]
skip_install = true
package = skip
pass_env = TOXBRIDGE_USER_*, FORCE_COLOR
commands = python -c "import os; print('SHOW', *(os.environ.get(n, '-') for n in \
('TOXBRIDGE_USER_A', 'TOXBRIDGE_USER_B', 'FORCE_COLOR')))"
"""


def cli(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TOXBRIDGE_")}
    return subprocess.run(
        toxbridge(*args),
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**environ, **(env or {})},
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def configured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, RunningServer]]:
    """A project whose pyproject.toml names its server by a relative ipc path and sets
    two variables, with that server running."""
    root = tmp_path_factory.mktemp("configured")
    (root / "tox.ini").write_text(SHOW_TOX_INI)
    (root / "pyproject.toml").write_text(
        textwrap.dedent("""\
            [tool.toxbridge]
            endpoint = "ipc://run/tb.sock"
            env = { TOXBRIDGE_USER_A = "from-pyproject", TOXBRIDGE_USER_B = "b" }
            """)
    )
    (root / "run").mkdir()
    (root / "src" / "deep").mkdir(parents=True)
    create_envs(root, "show")
    server = start_server(root, root / "server.log", endpoint=f"ipc://{root}/run/tb.sock")
    try:
        yield root, server
    finally:
        server.stop()


def test_pyproject_names_the_server_from_any_subdirectory(
    configured: tuple[Path, RunningServer],
) -> None:
    root, _ = configured
    done = cli("ping", "--json", cwd=root / "src" / "deep")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["queued"] == 0


def test_environment_beats_pyproject_and_an_option_beats_both(
    configured: tuple[Path, RunningServer],
) -> None:
    root, server = configured
    elsewhere = f"tcp://127.0.0.1:{free_port()}"
    env = {"TOXBRIDGE_ENDPOINT": elsewhere}
    refused = cli("ping", "--timeout", "0.5", cwd=root, env=env)
    assert refused.returncode == ServerUnreachable.exit_code
    assert elsewhere in refused.stderr
    assert cli("ping", "--endpoint", server.endpoint, cwd=root, env=env).returncode == 0


def test_env_options_merge_over_pyprojects_env_and_bare_color_is_ours(
    configured: tuple[Path, RunningServer],
) -> None:
    root, _ = configured
    done = cli("run", "--color", "-e", "show", "--env", "TOXBRIDGE_USER_A=from-cli", cwd=root)
    assert done.returncode == 0, done.stderr
    assert "SHOW from-cli b 1" in done.stdout  # A from --env, B from pyproject, colour on
    plain = cli("run", "-e", "show", "--color", "no", cwd=root)
    assert "SHOW from-pyproject b " in plain.stdout


def test_short_options_after_run_reach_tox_with_toxbridge_port_set(project: Path) -> None:
    port = free_port()
    log = project.parent / f"server-{port}.log"
    server = start_server(project, log, endpoint=f"tcp://127.0.0.1:{port}")
    try:
        # tox shows a passing env's command lines when it runs envs one by one, and
        # hides them in parallel mode: so their absence says that `-p auto` reached tox
        sequential = cli("-p", str(port), "run", "-e", "exit")
        assert sequential.returncode == 0, sequential.stderr
        assert "exit: commands[0]>" in sequential.stdout
        parallel = cli("run", "-p", "auto", "-e", "exit", env={"TOXBRIDGE_PORT": str(port)})
        assert parallel.returncode == 0, parallel.stderr
        assert "exit: OK" in parallel.stdout
        assert "commands[0]>" not in parallel.stdout
        before = cli("-p", str(port), "run", "-p", "auto", "-e", "exit")
        assert "exit: OK" in before.stdout
        assert "commands[0]>" not in before.stdout
    finally:
        server.stop()


@pytest.fixture
def tree_run(server: RunningServer) -> Iterator[subprocess.Popen[bytes]]:
    """A CLI `tree` run that has said READY and waits to be cancelled."""
    with subprocess.Popen(
        toxbridge("run", *server.client_args(), "-e", "tree"),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    ) as runner:
        assert runner.stdout is not None
        wait_for_ready(runner.stdout)
        try:
            yield runner
        finally:
            if runner.poll() is None:
                runner.send_signal(signal.SIGINT)
            runner.stdout.read()
            runner.wait(timeout=30)


def test_ping_shows_the_running_run_and_cancel_names_a_missing_one(
    server: RunningServer, tree_run: subprocess.Popen[bytes]
) -> None:
    text = cli("ping", *server.client_args())
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[0].split() == ["server", "toxbridge", *lines[0].split()[2:]]
    assert f"at {server.endpoint}" in lines[0]
    assert any(line.split()[:4] == ["running", "tox", "-e", "tree"] for line in lines)
    assert any("pid " in line and " for " in line for line in lines)
    assert lines[-1].split() == ["queued", "0", "runs"]

    run_id = json.loads(cli("ping", "--json", *server.client_args()).stdout)["running"][0]["id"]
    bogus = cli("cancel", "--run-id", "bogus", *server.client_args())
    assert (bogus.returncode, bogus.stdout) == (1, "")
    assert bogus.stderr == "toxbridge: no such run: 'bogus' (not running or queued)\n"
    assert tree_run.poll() is None  # still running

    cancelled = cli("cancel", "--run-id", run_id, *server.client_args())
    assert cancelled.stdout == f"cancelled: {run_id}\n"
    assert tree_run.wait(timeout=30) not in (0, 130)
    assert cli("cancel", *server.client_args()).stdout == "nothing was running\n"


def test_a_server_that_stops_answering_mid_run_exits_122_in_one_line(
    server: RunningServer,
) -> None:
    with subprocess.Popen(
        toxbridge("run", *server.client_args(), "--liveness", "1", "-e", "tree"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as runner:
        assert runner.stdout is not None
        assert runner.stderr is not None
        wait_for_ready(runner.stdout)
        server.process.send_signal(signal.SIGSTOP)
        try:
            code = runner.wait(timeout=60)
        finally:
            server.process.send_signal(signal.SIGCONT)
        stderr = runner.stderr.read().decode()
    assert code == ConnectionLost.exit_code == 122
    assert stderr.count("\n") == 1
    assert stderr.startswith("toxbridge: ")


def test_toxbridges_own_failures_have_their_own_exit_codes(server: RunningServer) -> None:
    usage = cli("ping", "--now", *server.client_args())
    assert (usage.returncode, usage.stderr.count("\n")) == (ConfigError.exit_code, 1)
    assert usage.returncode == 125
    config = cli("run", *server.client_args(), "--env", "py")
    assert (config.returncode, config.stderr.count("\n")) == (125, 1)
    refused = cli("run", *server.client_args(), "--env", "NOT_ALLOWED=1", "-e", "exit")
    assert (refused.returncode, refused.stderr.count("\n")) == (RemoteError.exit_code, 1)
    assert refused.returncode == 123
    assert "NOT_ALLOWED" in refused.stderr
    unreachable = cli("ping", "--endpoint", f"tcp://127.0.0.1:{free_port()}", "--timeout", "0.3")
    assert (unreachable.returncode, unreachable.stderr.count("\n")) == (124, 1)
    assert cli("run", *server.client_args(), "-e", "exit", "--", "7").returncode == 7


def test_ping_without_asyncio_fails_in_the_words_of_the_asyncio_client() -> None:
    """ping and cancel use net.oneshot, run uses net.client: the same server down, the
    same line and exit code."""
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    lines = {
        command[0]: cli(*command, "--endpoint", endpoint, "--timeout", "0.3")
        for command in (["ping"], ["cancel"], ["run", "-e", "exit"])
    }
    assert {done.returncode for done in lines.values()} == {ServerUnreachable.exit_code}
    assert len({done.stderr for done in lines.values()}) == 1
