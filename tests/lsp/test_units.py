"""The bridge's pure parts: settings precedence, output batching, globs, parsing helpers."""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from toxbridge.errors import ConfigError
from toxbridge.lsp.debounce import Debouncer, glob_matches
from toxbridge.lsp.messages import command_run_arguments
from toxbridge.lsp.output import MAX_TEXT_BYTES, OutputBatcher
from toxbridge.lsp.session import parse_env_list
from toxbridge.lsp.settings import PathMapping, base_settings, editor_layer, resolve


def cli_args(**given: object) -> argparse.Namespace:
    values: dict[str, object] = {"host": None, "port": None, "endpoint": None, "timeout": None}
    return argparse.Namespace(**{**values, **given})


def test_precedence_editor_over_pyproject_over_cli_over_env(tmp_path: Path) -> None:
    environ = {"TOXBRIDGE_PORT": "1111"}
    assert base_settings(cli_args(), environ).endpoint == "tcp://127.0.0.1:1111"
    base = base_settings(cli_args(port="2222"), environ)
    assert base.endpoint == "tcp://127.0.0.1:2222"
    (tmp_path / "pyproject.toml").write_text(
        '[tool.toxbridge]\nendpoint = "tcp://127.0.0.1:3333"\ntox_args = ["-e", "py"]\n'
        'path-mappings = {"/app" = "/home/me/app"}\n'
    )
    project = resolve(base, str(tmp_path), None)
    assert project.endpoint == "tcp://127.0.0.1:3333"
    assert project.tox_args == ("-e", "py")
    assert project.path_mappings == (PathMapping("/app", "/home/me/app"),)
    editor = resolve(base, str(tmp_path), {"endpoint": "tcp://127.0.0.1:4444", "toxArgs": None})
    assert editor.endpoint == "tcp://127.0.0.1:4444"
    assert editor.tox_args == ("-e", "py")  # null means "not set"


def test_editor_settings_nested_or_flat() -> None:
    assert editor_layer({"toxbridge": {"runOnSave": True}}) == {"runOnSave": True}
    assert editor_layer({"runOnSave": True}) == {"runOnSave": True}
    assert editor_layer(None) is None


def test_defaults_and_save_args() -> None:
    settings = resolve(base_settings(cli_args(), {}), None, {"toxArgs": ["-e", "py"]})
    assert settings.endpoint == "tcp://127.0.0.1:9876"
    assert (settings.run_on_save, settings.run_on_save_glob, settings.debounce_ms) == (
        False,
        "**/*.py",
        300,
    )
    assert settings.save_args == ("-e", "py")
    assert resolve(settings, None, {"runOnSaveArgs": []}).save_args == ()
    assert (settings.test_envs, settings.watch, settings.code_lens) == ((), True, True)
    tests = resolve(settings, None, {"testEnvs": ["py", "lint"], "watch": False, "codeLens": False})
    assert (tests.test_envs, tests.watch, tests.code_lens) == (("py", "lint"), False, False)


@pytest.mark.parametrize(
    ("layer", "named"),
    [
        ({"toxArgs": "-e py"}, "toxArgs"),
        ({"endpoint": "http://x"}, "bad endpoint"),
        ({"debounceMs": -1}, "debounceMs"),
        ({"env": {"A": 1}}, "env"),
        ({"pathMappings": [{"container": "/a"}]}, "pathMappings"),
        ({"runOnSave": "yes"}, "runOnSave"),
        ({"testEnvs": "py"}, "testEnvs"),
        ({"watch": 1}, "watch"),
        ({"codeLens": None, "watch": "no"}, "watch"),
    ],
)
def test_bad_settings_name_the_key(layer: dict[str, object], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        resolve(base_settings(cli_args(), {}), None, layer)


@given(st.binary(max_size=3000), st.lists(st.integers(1, 200), max_size=30))
def test_output_decodes_the_same_however_chunked(data: bytes, cuts: list[int]) -> None:
    batcher = OutputBatcher()
    texts = []
    start = 0
    for cut in [*cuts, len(data)]:
        batcher.feed("stdout", data[start : start + cut])
        start += cut
        texts += [batch.text for batch in batcher.flush()]
    batcher.feed("stdout", data[start:])
    texts += [batch.text for batch in batcher.flush(final=True)]
    assert "".join(texts) == data.decode(errors="replace")


def test_output_is_capped_per_batch_and_says_what_was_skipped() -> None:
    batcher = OutputBatcher()
    for _ in range(100):
        batcher.feed("stdout", "é".encode() * 10_000)
    batcher.feed("stderr", b"warning\n")
    stdout, stderr = batcher.flush()
    assert len(stdout.text.encode()) <= MAX_TEXT_BYTES
    assert "bytes of output skipped" in stdout.text
    assert stdout.text.endswith("é")
    assert "\ufffd" not in stdout.text  # the cut never shows half a character
    assert (stderr.stream, stderr.text) == ("stderr", "warning\n")
    assert batcher.flush() == []


@pytest.mark.parametrize(
    ("path", "pattern", "matches"),
    [
        ("a.py", "**/*.py", True),
        ("pkg/sub/a.py", "**/*.py", True),
        ("README.md", "**/*.py", False),
        ("src/a.py", "src/*.py", True),
        ("tests/a.py", "src/**/*.py", False),
    ],
)
def test_glob(path: str, pattern: str, matches: bool) -> None:
    assert glob_matches(path, pattern) is matches


def test_env_names_from_tox_list() -> None:
    text = (
        "ROOT: No loadable tox.ini\ndefault environments:\npy    -> run tests\nlint\n\n"
        "additional environments:\ndocs -> build docs\n"
    )
    assert parse_env_list(text) == ["py", "lint", "docs"]


def test_command_arguments() -> None:
    assert command_run_arguments(()) == (None, None)
    assert command_run_arguments(("-e", "py")) == (["-e", "py"], None)
    assert command_run_arguments(({"args": ["-e", "py"], "env": {"A": "1"}},)) == (
        ["-e", "py"],
        {"A": "1"},
    )
    with pytest.raises(ValueError, match="strings"):
        command_run_arguments((1,))
    with pytest.raises(ValueError, match="env"):
        command_run_arguments(({"env": {"A": 1}},))


async def test_debouncer_collapses_a_burst_and_stops_the_previous_run_first() -> None:
    calls: list[str] = []
    started = asyncio.Event()

    async def stop_previous() -> None:
        calls.append("stop")

    def start() -> None:
        calls.append("start")
        started.set()

    debouncer = Debouncer(stop_previous, start)
    for _ in range(10):
        debouncer.trigger(0.05)
    await started.wait()
    await debouncer.close()
    assert calls == ["stop", "start"]


async def test_debouncer_restarts_the_quiet_period_on_every_save() -> None:
    delay = 1.0
    started_at: list[float] = []
    started = asyncio.Event()

    async def stop_previous() -> None:
        pass

    def start() -> None:
        started_at.append(time.monotonic())
        started.set()

    debouncer = Debouncer(stop_previous, start)
    first = time.monotonic()
    for _ in range(5):  # the stimulus: saves 0.2 s apart, each inside the quiet period
        last = time.monotonic()
        debouncer.trigger(delay)
        await asyncio.sleep(0.2)
    await started.wait()
    await debouncer.close()
    assert len(started_at) == 1
    # a quiet period that did not restart would have ended at first + delay, before `last`
    assert started_at[0] - last >= delay * 0.95
    assert started_at[0] - first >= 0.8 + delay * 0.95


def test_building_the_cli_does_not_import_pygls() -> None:
    """`toxbridge run` must not pay for pygls and lsprotocol (about half a second)."""
    code = (
        "import sys; from toxbridge.cli.main import build_parser; build_parser(); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pygls', 'lsprotocol')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True)
    assert result.stdout == b"[]\n"
