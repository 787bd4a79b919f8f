"""The tox plugin: which envs get the reporter, and what it adds to their environment."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.reporter.conftest import ToxRun, run_tox, suite_pythonpath
from toxbridge.reporter import events
from toxbridge.reporter.tox_plugin import MODULE, appended, runs_pytest


@pytest.mark.parametrize(
    "command",
    [
        ["pytest"],
        ["py.test", "-x"],
        ["python", "-m", "pytest", "-q"],
        ["python3", "-mpytest"],
        ["/project/.tox/py/bin/pytest", "tests"],
        ["coverage", "run", "-m", "pytest"],
        ["coverage", "run", "--source", "src", "-m", "py.test"],
        ["xvfb-run", "-a", "pytest"],
    ],
)
def test_commands_that_run_pytest(command: list[str]) -> None:
    assert runs_pytest(command)


@pytest.mark.parametrize(
    "command",
    [
        ["python", "-c", "print('pytest')"],
        ["python", "-m", "pytest_benchmark"],
        ["sphinx-build", "docs", "build"],
        ["pytest-watch"],
        ["mypy", "-m", "pytest_plugin"],
        [],
    ],
)
def test_commands_that_do_not(command: list[str]) -> None:
    assert not runs_pytest(command)


@pytest.mark.parametrize(
    ("current", "expected"),
    [
        (None, "new"),
        ("", "new"),
        ("a:b", "a:b:new"),
        (":a", ":a:new"),  # an empty entry (the current directory) stays as it was
        ("a:new:b", "a:new:b"),
    ],
)
def test_values_are_appended_to_the_users_own(current: str | None, expected: str) -> None:
    assert appended(current, "new", ":") == expected


def seen_by(run: ToxRun, out: Path) -> dict[str, Any]:
    assert out.exists(), run.stdout + run.stderr
    seen: dict[str, Any] = json.loads(out.read_text())
    return seen


@pytest.fixture(scope="module")
def user_run(sample: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[ToxRun, Path]:
    out = tmp_path_factory.mktemp("user") / "seen.json"
    run = asyncio.run(run_tox(sample, "-e", "user", env={"TOXBRIDGE_TEST_OUT": str(out)}))
    return run, out


def test_the_users_own_settings_come_first(user_run: tuple[ToxRun, Path], sample: Path) -> None:
    run, out = user_run
    seen = seen_by(run, out)
    user_path, ours = seen["PYTHONPATH"].split(os.pathsep)
    assert user_path == str(sample / "userlib")
    modules = [name for name in seen["listing"][ours] if name != "__pycache__"]
    assert modules == [f"{MODULE}.py"]  # a directory holding only the reporter
    assert seen["PYTEST_PLUGINS"] == f"userplugin,{MODULE}"
    assert seen["PYTEST_ADDOPTS"] == "-p no:randomly --strict-markers"
    assert {"userplugin", MODULE} <= set(seen["plugins"])
    assert "userplugin loaded" in run.stdout
    (finish,) = run.of(events.Finish, env="user")
    assert finish.exitstatus == 0


def test_reportlog_data_come_only_on_request(user_run: tuple[ToxRun, Path]) -> None:
    run, _ = user_run
    (report, *_) = run.reports()
    assert report.reportlog is None
    with pytest.raises(events.NoReportlog, match="TOXBRIDGE_REPORTLOG=1"):
        events.reportlog(report)


def test_the_tests_do_not_see_the_channel(user_run: tuple[ToxRun, Path]) -> None:
    run, out = user_run
    seen = seen_by(run, out)
    assert (seen["TOXBRIDGE_EVENTS"], seen["TOXBRIDGE_ENV"]) == (None, None)
    assert run.of(events.Session)


async def test_without_the_variable_nothing_is_added(sample: Path, tmp_path: Path) -> None:
    out = tmp_path / "seen.json"
    env = {"TOXBRIDGE_TEST_OUT": str(out)}
    run = await run_tox(sample, "-e", "user", events_on=False, env=env)
    seen = seen_by(run, out)
    assert (seen["PYTHONPATH"], seen["PYTEST_PLUGINS"]) == (str(sample / "userlib"), "userplugin")
    assert MODULE not in seen["plugins"]
    run = await run_tox(sample, "-e", "py", "--", "showenv", events_on=False, env=env)
    seen = seen_by(run, out)
    assert (seen["PYTHONPATH"], seen["PYTEST_PLUGINS"]) == (suite_pythonpath(), None)
    assert MODULE not in seen["plugins"]


async def test_an_env_that_does_not_run_pytest_is_untouched(sample: Path, tmp_path: Path) -> None:
    out = tmp_path / "environ.json"
    run = await run_tox(sample, "-e", "plain", env={"TOXBRIDGE_TEST_OUT": str(out)})
    assert run.code == 0, run.stdout
    environ = seen_by(run, out)
    assert [name for name in environ if name.startswith(("PYTEST", "TOXBRIDGE_E"))] == []
    assert environ.get("PYTHONPATH") == suite_pythonpath()
    assert run.records == []


async def test_the_user_can_turn_the_reporter_off(sample: Path) -> None:
    run = await run_tox(sample, "-e", "py", "--", "-p", f"no:{MODULE}", "-q", "tests")
    assert run.code == 1
    assert "failed" in run.stdout
    assert run.records == []


async def test_a_pytest_run_by_a_test_stays_quiet(sample: Path) -> None:
    run = await run_tox(sample, "-e", "py", "--", "-q", "nested/test_nested.py")
    assert run.code == 0, run.stdout
    assert "1 passed" in run.stdout  # the inner pytest's own line
    assert [r.nodeid for r in run.of(events.Start)] == [
        "nested/test_nested.py::test_runs_pytest_inside"
    ]
    assert len(run.of(events.Session)) == 1


def listing(root: Path) -> list[str]:
    return sorted(
        str(path.relative_to(root)) for path in root.rglob("*") if ".tox" not in path.parts
    )


async def test_nothing_is_written_into_the_project(sample: Path, tmp_path: Path) -> None:
    env = {"TOXBRIDGE_TEST_OUT": str(tmp_path / "seen.json")}
    await run_tox(sample, "-e", "py,user", events_on=False, env=env)  # what tox and pytest write
    before = listing(sample)
    run = await run_tox(sample, "-e", "py,user", env=env)
    assert {finish.env for finish in run.of(events.Finish)} == {"py", "user"}
    assert listing(sample) == before
