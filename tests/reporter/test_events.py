"""The record format: decoding real records and bad lines, reportlog lines, path mapping,
and the layers' purity (events imports no I/O; the reporter only the stdlib and pytest)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests.reporter.conftest import ToxRun
from toxbridge.reporter import events, pytest_plugin, tox_plugin

PLUGIN = Path(pytest_plugin.__file__)


def test_every_real_record_survives_encoding(outcomes: ToxRun) -> None:
    assert len(outcomes.records) > 60
    for record in outcomes.records:
        line = events.encode(record)
        assert line.endswith(b"\n")
        assert line.count(b"\n") == 1
        assert events.decode_line(line) == record


def a_line(record: events.Record, **changes: Any) -> str:
    data = json.loads(events.encode(record))
    for key, value in changes.items():
        if value is ...:
            del data[key]
        else:
            data[key] = value
    return json.dumps(data)


def test_bad_lines_say_what_is_wrong(outcomes: ToxRun) -> None:
    report = outcomes.report("test_fails_on_lists")
    crash = json.loads(events.encode(report))["crash"]
    bad_line = {**crash, "line": "7"}
    cases: dict[str | bytes, str] = {
        b"not json": "not a JSON line",
        b"\xff\xfe": "not a JSON line",
        "[1, 2]": "a record is a JSON object, not list",
        a_line(report, v=2): "record format version 2: this reader knows 1",
        a_line(report, v=...): "record format version None",
        a_line(report, kind="nonsense"): "unknown record kind 'nonsense'",
        a_line(report, nodeid=...): "report: field 'nodeid' is missing",
        a_line(report, duration="slow"): "report: field 'duration' must be a number, not 'slow'",
        a_line(report, pid=True): "report: field 'pid' must be an integer, not True",
        a_line(report, crash=bad_line): "report.crash: field 'line' must be an integer",
        a_line(report, sections=[["title"]]): "field 'sections[0]' must be an array of 2",
        a_line(report, traceback={}): "field 'traceback' must be an array, not {}",
        a_line(report, reportlog=[]): "field 'reportlog' must be an object, not []",
    }
    for line, message in cases.items():
        with pytest.raises(events.BadRecord) as raised:
            events.decode_line(line)
        assert message in str(raised.value), line


def test_a_reader_goes_on_after_a_bad_line(outcomes: ToxRun) -> None:
    good = [events.encode(record) for record in outcomes.records[:3]]
    read = list(events.read_lines([good[0], b"{oops\n", b"\n", good[1], b"[]", good[2]]))
    assert [type(item) for item in read] == [
        events.Session,
        events.BadRecord,
        type(outcomes.records[1]),
        events.BadRecord,
        type(outcomes.records[2]),
    ]


def test_fields_a_reader_does_not_know_are_ignored(outcomes: ToxRun) -> None:
    record = outcomes.records[0]
    assert events.decode_line(a_line(record, added_later={"x": 1})) == record


def test_start_and_collection_have_no_reportlog_line(outcomes: ToxRun) -> None:
    kinds = {type(r) for r in outcomes.records if events.reportlog(r) is None}
    assert kinds == {events.Start, events.Collection}
    lines = list(events.reportlog_lines(outcomes.records))
    assert len(lines) == len(outcomes.records) - len(outcomes.of(events.Start)) - 1
    (session,) = outcomes.of(events.Session)
    assert json.loads(lines[0]) == {
        "pytest_version": session.pytest,
        "$report_type": "SessionStart",
    }


def test_prefix_map_takes_the_longest_prefix() -> None:
    mapped = events.prefix_map([("/app", "/home/me/app"), ("/app/src", "/elsewhere/src/")])
    assert mapped("/app/tests/test_x.py") == "/home/me/app/tests/test_x.py"
    assert mapped("/app/src/pkg/mod.py") == "/elsewhere/src/pkg/mod.py"
    assert mapped("/app") == "/home/me/app"
    assert mapped("/application/x.py") == "/application/x.py"
    assert mapped("tests/relative.py") == "tests/relative.py"


def paths_in(value: Any, key: str = "") -> list[str]:
    if isinstance(value, dict):
        return [path for name, item in value.items() for path in paths_in(item, name)]
    if isinstance(value, list):
        return [path for item in value for path in paths_in(item, key)]
    named = key in {"path", "rootdir", "invocation_dir", "filename"}
    return [value] if isinstance(value, str) and value.startswith("/") and named else []


def test_map_paths_reaches_every_path_a_record_carries(outcomes: ToxRun, sample: Path) -> None:
    mapped_root = "/home/me/project"
    map_path = events.prefix_map([(str(sample), mapped_root)])
    seen = 0
    for record in outcomes.records:
        mapped = events.map_paths(record, map_path)
        data = json.loads(events.encode(mapped))
        frames = [frame[0] for frame in data.get("traceback", [])]
        skip = data.get("reportlog", {}).get("longrepr")
        skips = [skip[0]] if isinstance(skip, list) else []
        for path in [*paths_in(data), *frames, *skips]:
            assert not path.startswith(str(sample)), (type(record), path)
            seen += path.startswith(mapped_root)
        assert events.reportlog(mapped) is not None or events.reportlog(record) is None
    assert seen > 50


def test_map_paths_leaves_node_ids_alone(outcomes: ToxRun) -> None:
    report = outcomes.report("test_fails_on_lists")
    mapped = events.map_paths(report, lambda path: "/mapped" + path)
    assert isinstance(mapped, events.Report)
    assert mapped.nodeid == report.nodeid
    assert mapped.reportlog is not None
    assert report.reportlog is not None
    assert mapped.reportlog["nodeid"] == report.nodeid
    assert mapped.reportlog["location"] == report.reportlog["location"]  # relative to rootdir
    assert report.crash is not None
    assert mapped.crash == replace(report.crash, path="/mapped" + report.crash.path)


def test_the_reporters_constants_are_the_formats() -> None:
    assert pytest_plugin.FORMAT_VERSION == events.FORMAT_VERSION
    assert pytest_plugin.ADDRESS_VARIABLE == tox_plugin.ADDRESS_VARIABLE == events.ADDRESS_VARIABLE
    assert pytest_plugin.ENV_VARIABLE == tox_plugin.ENV_VARIABLE == events.ENV_VARIABLE
    assert tox_plugin.SOURCE == PLUGIN


def test_the_reporter_is_python_3_9_code() -> None:
    ast.parse(PLUGIN.read_text(), feature_version=(3, 9))


def imported_after(statement: str) -> set[str]:
    code = f"import json, sys; {statement}; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return set(json.loads(done.stdout))


def test_events_import_no_io_framework() -> None:
    modules = imported_after("import toxbridge.reporter.events")
    io = {"zmq", "asyncio", "socket", "selectors", "pygls", "lsprotocol", "pytest", "tox"}
    assert sorted(m for m in modules if m.split(".")[0] in io) == []


def test_the_reporter_imports_only_the_standard_library_and_pytest() -> None:
    baseline = imported_after("import pytest")
    added = imported_after(f"sys.path.insert(0, {str(PLUGIN.parent)!r}); import pytest_plugin")
    foreign = {m.split(".")[0] for m in added - baseline} - set(sys.stdlib_module_names)
    assert foreign == {"pytest_plugin"}
