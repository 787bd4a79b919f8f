"""The same reports from pytest 7, 8 and 9, Python 3.9 to 3.13, xdist, and several envs.

pytest 7.4 runs on Python 3.9 and pytest 8.4 on 3.13 (envs installed from PyPI once per
session); pytest 9 is the interpreter's own, on 3.11. The truth is pytest's short
summary and counts line, and for `--report-log` the file pytest-reportlog itself wrote
in the same run.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from tests.reporter.conftest import (
    REPORTLOG,
    ToxRun,
    as_short_summary,
    run_tox,
    short_summary,
    summary_counts,
)
from toxbridge.reporter import events

VERSIONS = {"py": ("9.", "3.11."), "p7": ("7.4.", "3.9."), "p8": ("8.4.", "3.13.")}


def project(env: str, request: pytest.FixtureRequest) -> Path:
    fixture = "sample" if env == "py" else "downloaded"
    root: Path = request.getfixturevalue(fixture)
    return root


def phases(run: ToxRun) -> Counter[tuple[str, str]]:
    return Counter((report.nodeid, report.when) for report in run.reports())


def assert_pytests_own_summary(run: ToxRun) -> None:
    assert sorted(as_short_summary(run)) == sorted(short_summary(run.stdout).elements())
    (finish,) = run.of(events.Finish)
    assert summary_counts(run.stdout) == [dict(finish.counts)]


@pytest.mark.parametrize("env", sorted(VERSIONS))
async def test_every_pytest_and_python_reports_alike(
    env: str, request: pytest.FixtureRequest
) -> None:
    run = await run_tox(project(env, request), "-e", env)
    (session,) = run.of(events.Session)
    assert session.pytest.startswith(VERSIONS[env][0])
    assert session.python.startswith(VERSIONS[env][1])
    assert run.notes == []
    assert_pytests_own_summary(run)
    compare = run.report("test_fails_on_lists").compare
    assert compare == events.Compare("==", "[1, 2, 3]", "[1, 2, 4]", "list", "list")
    (collection,) = run.of(events.Collection)
    assert [item.nodeid for item in collection.items] == [s.nodeid for s in run.of(events.Start)]


@pytest.mark.parametrize("env", ["xdist", "p7"])
async def test_xdist_workers_send_each_report_once(env: str, downloaded: Path) -> None:
    alone = await run_tox(downloaded, "-e", env)
    spread = await run_tox(downloaded, "-e", env, "--", "-rA", "-n", "2", "tests")
    assert "2 workers" in spread.stdout
    assert set(phases(spread).values()) == {1}
    assert phases(spread) == phases(alone)
    assert_pytests_own_summary(spread)
    assert {report.worker for report in spread.reports()} == {None}  # the controller's
    assert len({record.sid for record in spread.records}) == 1
    # what only the workers knew reached the controller's reports
    for report in alone.reports():
        twin = spread.report(report.nodeid, report.when)
        assert (twin.outcome, twin.compare) == (report.outcome, report.compare)
        assert (twin.crash, twin.traceback) == (report.crash, report.traceback)
    (collection,) = spread.of(events.Collection)
    (single,) = alone.of(events.Collection)
    assert collection.worker == "gw0"
    assert collection.items == single.items


def reportlog_file(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize(
    ("env", "extra"), [("xdist", ()), ("p8", ()), ("xdist", ("-n", "2")), ("p7", ("-n", "2"))]
)
async def test_records_make_pytest_reportlogs_lines(
    env: str, extra: tuple[str, ...], downloaded: Path, tmp_path: Path
) -> None:
    log = tmp_path / "reportlog.jsonl"
    args = ("-e", env, "--", f"--report-log={log}", *extra, "tests")
    run = await run_tox(downloaded, *args, env=REPORTLOG)
    ours = [json.loads(line) for line in events.reportlog_lines(run.records)]
    theirs = reportlog_file(log)
    assert len(theirs) > 50
    assert ours == theirs


async def test_reportlog_lines_of_collection_errors(downloaded: Path, tmp_path: Path) -> None:
    log = tmp_path / "reportlog.jsonl"
    args = ("-e", "xdist", "--", f"--report-log={log}", "broken")
    run = await run_tox(downloaded, *args, env=REPORTLOG)
    ours = [json.loads(line) for line in events.reportlog_lines(run.records)]
    assert ours == reportlog_file(log)
    collected = [line["outcome"] for line in ours if line["$report_type"] == "CollectReport"]
    assert collected.count("failed") == 2


def by_env(run: ToxRun, env: str) -> list[tuple[str, str, str]]:
    return [(report.nodeid, report.when, report.outcome) for report in run.reports(env)]


@pytest.mark.parametrize("how", [("p", "-e", "py,other"), ("r", "-e", "py,other")])
async def test_two_envs_each_report_under_their_name(how: tuple[str, ...], sample: Path) -> None:
    run = await run_tox(sample, *how)
    assert {record.env for record in run.records} == {"py", "other"}
    assert by_env(run, "py") == by_env(run, "other")
    assert len(by_env(run, "py")) == sum(phases(run).values()) // 2
    for env in ("py", "other"):
        kinds = [type(record) for record in run.records if record.env == env]
        assert (kinds[0], kinds[-1]) == (events.Session, events.Finish)
        twice = Counter(as_short_summary(run, env) * 2)  # both envs print the same lines
        assert twice == short_summary(run.stdout)
    assert summary_counts(run.stdout) == [dict(f.counts) for f in run.of(events.Finish)]
    assert len({record.sid for record in run.records}) == 2
    if how[0] == "r":  # one env after the other
        envs = [record.env for record in run.records]
        assert envs == sorted(envs, key=["py", "other"].index)
