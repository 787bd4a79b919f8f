"""pytest plugin used only by the corpus generators: pytest's own record of each failure.

Loaded as `-p tbtruth` (the generators put this file on PYTHONPATH under /tmp or /var/tmp);
never imported by the tests. For every failed report it appends one JSON line to
$TB_TRUTH_FILE saying where pytest itself says the failure is: the deepest traceback frame
inside the project ($TB_ROOT, not an installed copy), the crash site pytest reports, the
test's own location (`report.location`, 0-based), and what kind of failure it is (the
exception type, a group, a subtest, a hypothesis test, the item's type) so that the scorer
can group failures into families without reading the log.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from types import FrameType
from typing import Any

import _pytest
import pluggy
import pytest

ROOT = os.environ["TB_ROOT"]
OUT = os.environ["TB_TRUTH_FILE"]


def _project(path: object) -> bool:
    if str(path).startswith("<"):  # `<frozen importlib._bootstrap>`, `<string>`
        return False
    path = os.path.abspath(str(path))
    inside = path.startswith(ROOT + os.sep)
    return inside and "site-packages" not in path and os.sep + ".tox" + os.sep not in path


def _rel(path: object) -> str:
    return os.path.relpath(os.path.abspath(str(path)), ROOT).replace(os.sep, "/")


# pytest leaves its own frames and pluggy's out of every traceback it prints (even a copy of
# pluggy that is the project under test), so they cannot be a printed crash site.
_PYTEST_DIRS = tuple(os.path.dirname(str(m.__file__)) + os.sep for m in (_pytest, pluggy))


def _hidden(frame: Any) -> bool:
    if not _NATIVE and frame.f_code.co_filename.startswith(_PYTEST_DIRS):
        return True
    return bool(frame.f_locals.get("__tracebackhide__") or frame.f_globals.get("__tracebackhide__"))


def _chain(value: BaseException | None) -> list[BaseException]:
    seen: list[BaseException] = []
    while value is not None and value not in seen:
        seen.append(value)
        value = value.__cause__ or value.__context__
    return seen


def _site_of(value: BaseException) -> tuple[str, int] | None:
    if isinstance(value, SyntaxError) and value.filename and _project(value.filename):
        return _rel(value.filename), value.lineno or 0
    found = None
    for frame, lineno in traceback.walk_tb(value.__traceback__):
        if _project(frame.f_code.co_filename) and not _hidden(frame):
            found = (_rel(frame.f_code.co_filename), lineno)
    return found


def _site(excinfo: Any) -> tuple[str, int] | None:
    """The deepest project frame of the outermost exception in the chain that has one.

    Collection errors wrap the real ImportError or SyntaxError, so look down the chain; an
    exception group raised outside the project (hypothesis) is looked into, first member first.
    """
    if excinfo is None:
        return None
    pending = [excinfo.value]
    while pending:
        value = pending.pop(0)
        for link in _chain(value):
            found = _site_of(link)
            if found:
                return found
        pending.extend(getattr(value, "exceptions", ()))
    return None


def _subtest() -> bool:
    """Whether this report is made for a subtest (pytest 9's `subtests` or unittest subTest)."""
    frame: FrameType | None = sys._getframe(2)
    for _ in range(12):
        if frame is None:
            return False
        name, filename = frame.f_code.co_name, frame.f_code.co_filename
        if name == "addSubTest" or (name == "__exit__" and filename.endswith("subtests.py")):
            return True
        frame = frame.f_back
    return False


def _kind_fields(item: Any, excinfo: Any) -> dict[str, object]:
    value = excinfo.value if excinfo is not None else None
    exc_type = type(value) if value is not None else None
    return {
        "exc": f"{exc_type.__module__}.{exc_type.__qualname__}" if exc_type else None,
        "group": hasattr(value, "exceptions"),  # an exception group
        "item": type(item).__name__ if item is not None else None,
        "hypothesis": bool(getattr(getattr(item, "obj", None), "is_hypothesis_test", False)),
    }


def _record(report: Any, excinfo: Any, kind: str, item: Any, subtest: bool = False) -> None:
    longrepr = report.longrepr
    site = None
    lines = getattr(longrepr, "reprlocation_lines", None)
    if lines:  # doctest: pytest points at the failing example
        loc = lines[0][0]
        site = (_rel(loc.path), loc.lineno)
    site = site or _site(excinfo)
    crash = getattr(longrepr, "reprcrash", None)
    if site is None and crash is not None and _project(crash.path):
        site = (_rel(crash.path), crash.lineno)
    location = getattr(report, "location", None)
    definition = None
    if location and location[1] is not None:
        definition = (location[0].replace(os.sep, "/"), location[1] + 1)
    if site is None and definition is not None:
        site = definition
    if site is None:
        site = (report.nodeid.split("::")[0], None)
    record = {
        "kind": kind,
        "nodeid": report.nodeid,
        "when": report.when,
        "path": site[0],
        "line": site[1],
        "crash": [_rel(crash.path), crash.lineno] if crash is not None else None,
        "message": crash.message if crash is not None else str(longrepr).splitlines()[0],
        "definition": definition,
        "env": os.environ.get("TOX_ENV_NAME"),
        "subtest": subtest,
        **_kind_fields(item, excinfo),
    }
    with open(OUT, "a", encoding="utf-8") as out:
        out.write(json.dumps(record) + "\n")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: Any, call: Any) -> Any:
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        kind = "error" if report.when != "call" else "failed"
        _record(report, call.excinfo, kind, item, _subtest())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: Any) -> Any:
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        call = report.__dict__.get("call")
        report.when = "collect"
        _record(report, call.excinfo if call else None, "collect", None)


_WORKER = False
_NATIVE = False  # `--tb=native` prints Python's traceback: nothing is left out


def pytest_configure(config: Any) -> None:
    global _WORKER, _NATIVE
    _WORKER = hasattr(config, "workerinput")
    _NATIVE = config.getoption("tbstyle", "auto") == "native"


def pytest_collectreport(report: Any) -> None:
    """How often the terminal shows a collection error: xdist's controller shows each worker's
    report of it unless the same text came before, so the count is the controller's."""
    if report.failed and not _WORKER:
        record = {"kind": "shown", "nodeid": report.nodeid, "env": os.environ.get("TOX_ENV_NAME")}
        with open(OUT, "a", encoding="utf-8") as out:
            out.write(json.dumps(record) + "\n")


@pytest.hookimpl(hookwrapper=True)
def pytest_load_initial_conftests(early_config: Any, parser: Any, args: Any) -> Any:
    """A conftest that cannot be imported at start-up: no report hook ever sees it."""
    outcome = yield
    if outcome.excinfo is None:
        return
    error = outcome.excinfo[1]
    cause = getattr(error, "excinfo", None)
    value = cause[1] if cause else error
    site = _site_of(value) or (_rel(getattr(error, "path", ROOT)), 1)
    record = {
        "kind": "conftest",
        "nodeid": "",
        "when": "conftest",
        "path": site[0],
        "line": site[1],
        "crash": None,
        "message": f"{type(value).__name__}: {value}",
        "definition": None,
        "env": os.environ.get("TOX_ENV_NAME"),
        "subtest": False,
        "exc": f"{type(value).__module__}.{type(value).__qualname__}",
        "group": False,
        "item": None,
        "hypothesis": False,
    }
    with open(OUT, "a", encoding="utf-8") as out:
        out.write(json.dumps(record) + "\n")
