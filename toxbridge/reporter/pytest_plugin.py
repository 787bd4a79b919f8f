"""toxbridge's reporter: pytest's own reports, streamed live as JSON lines over a unix socket.

This module runs inside the user's tox env, not in toxbridge's: the tox plugin copies it,
alone, into a run-private directory on PYTHONPATH as `toxbridge_reporter` and appends
that name to PYTEST_PLUGINS. So it imports only the standard library and pytest, and runs
on Python 3.9+ with pytest 7, 8 and 9 (no 3.10 syntax outside annotations).

It never changes the run: it only reads what pytest reports, every hook body swallows its
own errors, `pytest_assertrepr_compare` returns None, and nothing is printed. When the
socket cannot be opened or breaks (or the reader stalls for SEND_TIMEOUT_S), it goes
quiet and pytest carries on alone. No threads: a test that forks must not find one.

The outermost pytest takes TOXBRIDGE_EVENTS and TOXBRIDGE_ENV out of os.environ at
configure time, so pytest runs nested in its tests (subprocesses, pytester) stay quiet.
With pytest-xdist the controller is the only sender of reports, as it is the only
writer of `pytest --report-log`; workers add to each report (in the `_toxbridge`
attribute, which the controller pops before any other plugin sees it) what only they
know: the compared values of a failed assert, the traceback's frames, a collection
error's site. Worker gw0 connects itself to send the collected items. The record format
is toxbridge.reporter.events'; keep the constants below equal to its own.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import json
import linecache
import os
import platform
import pprint
import re
import socket
import sys
import sysconfig
import time
import traceback
import types
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

FORMAT_VERSION = 1
ADDRESS_VARIABLE = "TOXBRIDGE_EVENTS"
ENV_VARIABLE = "TOXBRIDGE_ENV"
REPORTLOG_VARIABLE = "TOXBRIDGE_REPORTLOG"  # "1": records carry what pytest-reportlog writes
WORKER_INPUT = "toxbridge_events"  # key of xdist's workerinput: [address, env, session id]
EXTRA = "_toxbridge"  # report attribute: a worker's extra facts on their way to the controller
CONNECT_TIMEOUT_S = 2.0
SEND_TIMEOUT_S = 5.0
MAX_BUFFER = 64 * 1024
FLUSH_INTERVAL_S = 0.01
MAX_VALUE_CHARS = 100_000  # each compared value's text
MAX_DECORATOR_LINES = 50
_NOSIGNAL = getattr(socket, "MSG_NOSIGNAL", 0)

Pending = dict[tuple[str, str], dict[str, Any]]  # (nodeid, when or "collect") -> extra facts


@pytest.hookimpl(trylast=True)  # after xdist's own configure has registered its controller
def pytest_configure(config: pytest.Config) -> None:
    with contextlib.suppress(Exception):  # the run goes on without events
        _configure(config)


def _configure(config: pytest.Config) -> None:
    plugins = config.pluginmanager
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        given = workerinput.get(WORKER_INPUT)
        if given:
            address, env, sid = given
            plugins.register(WorkerCapture(), "toxbridge-capture")
            channel = Channel.connect(address) if workerinput.get("workerid") == "gw0" else None
            if channel is not None:  # every worker collects the same items: one sends them
                collector = Collector(channel, Header(env, sid, "gw0"))
                plugins.register(collector, "toxbridge-collector")
        return
    address = os.environ.pop(ADDRESS_VARIABLE, "")
    env = os.environ.pop(ENV_VARIABLE, "")
    reportlog = os.environ.pop(REPORTLOG_VARIABLE, "") == "1"
    channel = Channel.connect(address) if address else None
    if channel is None:
        return
    sid = uuid.uuid4().hex
    header = Header(env, sid, None)
    capture: Capture | Early
    if plugins.hasplugin("dsession"):  # the xdist controller: workers run the tests
        capture = Early()
        plugins.register(XdistHooks([address, env, sid]), "toxbridge-xdist")
    else:
        capture = Capture()
        plugins.register(Collector(channel, header), "toxbridge-collector")
    plugins.register(capture, "toxbridge-capture")
    reporter = Reporter(config, channel, header, capture.pending, reportlog)
    plugins.register(reporter, "toxbridge-reporter")


class Channel:
    """The connection to the run's socket; quiet for good after the first failure.

    Each write can wake the reader, and on a busy machine that costs more than everything
    else the reporter does (benchmarks/bench_reporter.py). So records wait in a buffer until
    FLUSH_INTERVAL_S has passed since the last write (checked whenever a record is
    made), the buffer reaches MAX_BUFFER, or a record a reader wants at once comes: the
    session's start, the collection, a failure, the session's end. The price: without a
    thread (a test that forks must not find one) nothing can write while a test runs, so
    records made in the last 10 ms before a slow test (its own start among them) wait
    until that test's next record.
    """

    def __init__(self, sock: socket.socket) -> None:
        self.sock: socket.socket | None = sock
        self.pid = os.getpid()
        self.buffer: list[bytes] = []
        self.buffered = 0
        self.flushed = 0.0  # time.monotonic() of the last write

    @classmethod
    def connect(cls, address: str) -> Channel | None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(CONNECT_TIMEOUT_S)
            sock.connect(address)
            sock.settimeout(SEND_TIMEOUT_S)
        except OSError:
            sock.close()
            return None
        return cls(sock)

    @property
    def open(self) -> bool:
        # a forked child of a test has this socket too: only the process that opened it writes
        return self.sock is not None and os.getpid() == self.pid

    def send(self, record: dict[str, Any], now: bool = False) -> None:
        if not self.open:
            return
        try:
            line = encode(record)
            self.buffer.append(line)
            self.buffered += len(line)
            due = time.monotonic() - self.flushed >= FLUSH_INTERVAL_S
            if now or due or self.buffered >= MAX_BUFFER:
                self.flush()
        except Exception:
            self.close()

    def flush(self) -> None:
        data, self.buffer, self.buffered = b"".join(self.buffer), [], 0
        self.flushed = time.monotonic()
        if data and self.sock is not None:
            self.sock.sendall(data, _NOSIGNAL)

    def close(self) -> None:
        if not self.open:
            self.sock = None
            return
        with contextlib.suppress(Exception):  # what is still buffered goes, if it can
            self.flush()
        sock, self.sock = self.sock, None
        with contextlib.suppress(OSError):
            sock.close()  # type: ignore[union-attr]  # open: it is set

    @contextlib.contextmanager
    def closing_on_error(self) -> Iterator[None]:
        """Around a hook's body: any error of ours ends the events, never the run."""
        try:
            yield
        except Exception:
            self.close()


def encode(record: dict[str, Any]) -> bytes:
    try:
        text = json.dumps(record, separators=(",", ":"))
    except (TypeError, ValueError):
        # as pytest-reportlog does: a value JSON cannot hold becomes its str()
        if record.get("reportlog"):
            record["reportlog"] = _cleanup(record["reportlog"])
        text = json.dumps(record, separators=(",", ":"), default=str)
    return (text + "\n").encode()  # ASCII: json escapes everything else


def _cleanup(data: dict[str, Any]) -> dict[str, Any]:
    result = {}
    for key, value in data.items():
        try:
            json.dumps({key: value})
        except (TypeError, ValueError):
            value = str(value)
        result[key] = value
    return result


class Header:
    """The fields every record carries, stamped with the time it was made."""

    def __init__(self, env: str, sid: str, worker: str | None) -> None:
        self.env, self.sid, self.worker = env, sid, worker

    def record(self, kind: str, **fields: Any) -> dict[str, Any]:
        record = {"v": FORMAT_VERSION, "kind": kind, "env": self.env, "sid": self.sid}
        record.update(t=time.time(), pid=os.getpid(), worker=self.worker, **fields)
        return record


def outcome_of(when: str, outcome: str, wasxfail: bool) -> str:
    """One of passed|failed|skipped|xfailed|xpassed|error, as pytest's summary names it."""
    if wasxfail and outcome in ("skipped", "passed"):
        return "xfailed" if outcome == "skipped" else "xpassed"
    if outcome == "failed":
        return "failed" if when == "call" else "error"
    return outcome  # passed, skipped, or another plugin's word (pytest-rerunfailures' rerun)


def category_of(when: str, outcome: str, subtest: bool) -> str:
    """What the report counts as in pytest's summary line ("" = not counted)."""
    if subtest:  # pytest 9 counts only failed subtests by default
        return outcome if outcome == "failed" else ""
    if when in ("setup", "teardown") and outcome == "passed":
        return ""
    return outcome


def _value_text(value: object) -> str:
    try:
        text = value if isinstance(value, str) else pprint.pformat(value, width=80)
    except Exception:
        text = object.__repr__(value)
    if len(text) > MAX_VALUE_CHARS:
        text = text[:MAX_VALUE_CHARS] + f"\n... ({len(text) - MAX_VALUE_CHARS} more characters)"
    return text


def _prefixes(paths: Any) -> tuple[str, ...]:
    return tuple(os.path.join(str(path), "") for path in paths if path)


_INSTALLED = re.compile(r"[/\\](site|dist)-packages[/\\]")


class Frames:
    """[path, 1-based line] of a traceback's frames, from the first one of the user's code.

    pytest's and pluggy's frames go; so do the callers before the test (plugins' wrappers,
    the standard library's unittest), which live in the interpreter's library paths or in
    any site-packages (a plugin found on PYTHONPATH is outside the env's own paths).
    """

    def __init__(self) -> None:
        machinery = (sys.modules.get(name) for name in ("_pytest", "pluggy"))
        self.machinery = _prefixes(
            os.path.dirname(str(module.__file__)) for module in machinery if module
        )
        self.library = ("<", *_prefixes(sorted(set(sysconfig.get_paths().values()))))

    def __call__(self, tb: Any) -> list[tuple[str, int]]:
        frames = [(frame.f_code.co_filename, line) for frame, line in traceback.walk_tb(tb)]
        frames = [frame for frame in frames if not frame[0].startswith(self.machinery)]
        for start, (path, _) in enumerate(frames):
            if not path.startswith(self.library) and not _INSTALLED.search(path):
                return frames[start:]
        return frames


def _root_cause(error: BaseException) -> BaseException:
    seen = {id(error)}
    while error.__cause__ is not None and id(error.__cause__) not in seen:
        error = error.__cause__
        seen.add(id(error))
    return error


class Capture:
    """What only the process running a test knows: compared values, frames, error sites."""

    def __init__(self) -> None:
        self.pending: Pending = {}
        self.compare: dict[str, Any] | None = None
        self.frames = Frames()

    def pytest_assertrepr_compare(self, op: str, left: object, right: object) -> None:
        try:  # the last comparison explained before a phase fails is the failing one
            self.compare = {"op": op, "left": _value_text(left), "right": _value_text(right)}
            self.compare.update(left_type=type(left).__name__, right_type=type(right).__name__)
        except Exception:
            self.compare = None

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: Any) -> None:
        compare, self.compare = self.compare, None
        try:
            if call.excinfo is None:
                return
            extra: dict[str, Any] = {"traceback": self.frames(call.excinfo.tb)}
            if compare is not None and isinstance(call.excinfo.value, AssertionError):
                extra["compare"] = compare
            self.pending[(item.nodeid, call.when)] = extra
        except Exception:  # noqa: S110 (the report goes without the extras)
            pass

    def pytest_exception_interact(self, node: Any, call: Any, report: Any) -> None:
        try:
            if not isinstance(node, pytest.Item) and call.excinfo is not None:
                self.pending[(report.nodeid, "collect")] = self._error_site(node, call.excinfo)
        except Exception:  # noqa: S110 (the collection error goes without its site)
            pass

    def _error_site(self, node: Any, excinfo: Any) -> dict[str, Any]:
        cause = _root_cause(excinfo.value)  # pytest's CollectError is raised `from` it
        frames = self.frames(cause.__traceback__)
        message = traceback.format_exception_only(type(cause), cause)[-1].strip()
        if isinstance(cause, SyntaxError) and cause.filename:
            path, line = cause.filename, cause.lineno
        elif frames:
            path, line = frames[-1]
        else:
            path, line = str(getattr(node, "path", "")), None
        return {"crash": {"path": path, "line": line, "message": message}, "traceback": frames}


class WorkerCapture(Capture):
    """In an xdist worker: the extras ride on the report to the controller."""

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: Any) -> None:
        extra = self.pending.pop((report.nodeid, report.when), None)
        if extra is not None:
            report.__dict__[EXTRA] = extra

    @pytest.hookimpl(tryfirst=True)
    def pytest_collectreport(self, report: Any) -> None:
        extra = self.pending.pop((report.nodeid, "collect"), None)
        if extra is not None:
            report.__dict__[EXTRA] = extra


class Early:
    """In the xdist controller: takes the workers' extras off reports before anyone else."""

    def __init__(self) -> None:
        self.pending: Pending = {}

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: Any) -> None:
        extra = report.__dict__.pop(EXTRA, None)
        if isinstance(extra, dict):
            self.pending[(report.nodeid, report.when)] = extra

    @pytest.hookimpl(tryfirst=True)
    def pytest_collectreport(self, report: Any) -> None:
        extra = report.__dict__.pop(EXTRA, None)
        if isinstance(extra, dict):
            self.pending[(report.nodeid, "collect")] = extra


class XdistHooks:
    """Hands the channel to each worker; registered only where xdist's hooks exist."""

    def __init__(self, given: list[str]) -> None:
        self.given = given

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput[WORKER_INPUT] = self.given


def _def_line(item: pytest.Item) -> int | None:
    """The line of a test function's `def`: pytest's location is its first decorator's.

    For a test function the first decorator's line comes from its code, found as pytest's
    location finds it (`getfslineno`); asking `item.location` instead costs pytest a path
    lookup per item, most of what collecting 2,000 tests cost the reporter. Other items
    (doctests, other plugins' own) get pytest's own answer."""
    code = _function_code(item)
    if code is None:
        _, line, _ = item.location
        return line + 1 if isinstance(line, int) else None
    first = code.co_firstlineno
    for number in range(first, first + MAX_DECORATOR_LINES):
        text = linecache.getline(code.co_filename, number).lstrip()
        if text.startswith(("def ", "async def ")):
            return number
    return first


def _function_code(item: pytest.Item) -> types.CodeType | None:
    """A test function's code, the object pytest's location reads it from (the real function
    behind wraps and partials, or its `place_as`); None for an item that is none."""
    if not isinstance(item, pytest.Function):
        return None
    try:
        obj = item.obj
        if isinstance(getattr(obj, "compat_co_firstlineno", None), int):
            return None  # nose's compatibility: pytest 7 reads the line from there
        real = inspect.unwrap(obj)
    except Exception:  # a __wrapped__ cycle, an object that refuses getattr
        return None
    if isinstance(real, functools.partial):
        real = real.func
    real = getattr(real, "place_as", real)
    code = getattr(real, "__code__", None)
    return code if isinstance(code, types.CodeType) else None


def _item(item: pytest.Item) -> dict[str, Any]:
    callspec = getattr(item, "callspec", None)
    return {
        "nodeid": item.nodeid,
        "path": str(item.path),
        "line": _def_line(item),
        "name": item.name,
        "function": getattr(item, "originalname", None) or item.name,
        "classes": [node.name for node in item.listchain() if isinstance(node, pytest.Class)],
        "param": callspec.id if callspec is not None else None,
    }


class Collector:
    """Sends the collected items once collection is done (deselection included)."""

    def __init__(self, channel: Channel, header: Header) -> None:
        self.channel, self.header = channel, header
        self.deselected = 0

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        self.deselected += len(items)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        with self.channel.closing_on_error():
            items = [_item(item) for item in session.items]
            record = self.header.record("collection", items=items, deselected=self.deselected)
            self.channel.send(record, now=True)

    def pytest_unconfigure(self) -> None:
        self.channel.close()


def _skip_reason(report: Any) -> str:
    """The reason pytest's short summary shows for a skip or an xfail."""
    wasxfail = getattr(report, "wasxfail", None)
    if wasxfail is not None:
        reason = str(wasxfail)
        return reason[len("reason: ") :] if reason.startswith("reason: ") else reason
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        reason = str(longrepr[2])
        if reason.startswith("Skipped: "):
            return reason[len("Skipped: ") :]
        return "" if reason == "Skipped" else reason
    return ""


def _failure(report: Any) -> dict[str, Any]:
    """crash, message, longreprtext and reason, however pytest shaped the longrepr."""
    longrepr = report.longrepr
    fields: dict[str, Any] = {"crash": None, "message": None, "longreprtext": "", "reason": None}
    if longrepr is not None:
        fields["longreprtext"] = report.longreprtext
    crash = getattr(longrepr, "reprcrash", None)
    if isinstance(longrepr, tuple) and len(longrepr) == 3:  # a skip: where and why
        fields["crash"] = {"path": str(longrepr[0]), "line": longrepr[1], "message": ""}
    elif crash is not None:
        fields["crash"] = {"path": str(crash.path), "line": crash.lineno, "message": crash.message}
    if report.skipped or hasattr(report, "wasxfail"):
        fields["reason"] = fields["message"] = _skip_reason(report)
    elif report.failed:
        first = fields["longreprtext"].split("\n")[0]
        fields["message"] = fields["crash"]["message"] if fields["crash"] else first
    if fields["crash"] is not None and not fields["crash"]["message"]:
        fields["crash"]["message"] = fields["message"] or ""
    return fields


def _subtest(report: Any) -> str | None:
    """The description of a subtest's report (pytest 9's subtests, pytest-subtests), else None."""
    context = getattr(report, "context", None)
    if context is None:
        return None
    describe = getattr(report, "_sub_test_description", None)
    return str(describe()) if callable(describe) else str(context)


class Reporter:
    """The sender of every record but the collection (the xdist controller, or plain pytest)."""

    def __init__(
        self, config: pytest.Config, channel: Channel, header: Header, pending: Pending, log: bool
    ) -> None:
        self.config, self.channel, self.header, self.pending = config, channel, header, pending
        self.log = log  # pytest_report_to_serializable costs: only when the reportlog is wanted
        self.rootdir = str(config.rootpath)
        self.counts: dict[str, int] = {}
        self.started = time.monotonic()

    def count(self, category: str) -> None:
        if category:
            self.counts[category] = self.counts.get(category, 0) + 1

    def reportlog(self, report: Any) -> dict[str, Any] | None:
        """What pytest-reportlog writes for the report, less the sections the record holds."""
        if not self.log:
            return None
        hook = self.config.hook.pytest_report_to_serializable
        data = dict(hook(config=self.config, report=report))
        if "_report_type" in data:  # as pytest-reportlog writes subtests' reports (its #90)
            data["$report_type"] = data.pop("_report_type")
        data.pop("sections", None)
        return data

    def outcome(self, report: Any, when: str) -> dict[str, Any]:
        """The fields a test's and a collector's report have in common."""
        fields = {"nodeid": report.nodeid, "when": when}
        fields["outcome"] = outcome_of(when, report.outcome, hasattr(report, "wasxfail"))
        fields["sections"] = [list(section) for section in report.sections]
        fields.update(_failure(report), reportlog=self.reportlog(report))
        extra = self.pending.pop((report.nodeid, when), None)
        if extra is not None:
            fields.update(extra)
            if "crash" in extra:  # a collection error's own site, not pytest's wrapper of it
                fields["message"] = extra["crash"]["message"]
        return fields

    @pytest.hookimpl(trylast=True)
    def pytest_sessionstart(self) -> None:
        with self.channel.closing_on_error():
            params = self.config.invocation_params
            fields: dict[str, Any] = {"pytest": pytest.__version__}
            fields["python"] = platform.python_version()
            fields.update(rootdir=self.rootdir, invocation_dir=str(params.dir))
            fields["args"] = [str(arg) for arg in params.args]
            self.channel.send(self.header.record("session", **fields), now=True)

    @pytest.hookimpl(trylast=True)
    def pytest_collectreport(self, report: Any) -> None:
        with self.channel.closing_on_error():
            fields = {"traceback": [], **self.outcome(report, "collect")}
            if fields["outcome"] != "passed":
                self.count(fields["outcome"])
            del fields["when"]
            record = self.header.record("collect", **fields)
            self.channel.send(record, now=fields["outcome"] != "passed")

    def pytest_runtest_logstart(self, nodeid: str, location: tuple[str, int | None, str]) -> None:
        with self.channel.closing_on_error():
            path, line, domain = location
            path = os.path.normpath(os.path.join(self.rootdir, path))
            line = line + 1 if isinstance(line, int) else None
            fields = {"nodeid": nodeid, "path": path, "line": line, "domain": domain}
            self.channel.send(self.header.record("start", **fields))

    @pytest.hookimpl(trylast=True)  # after pytest 9's subtests has settled the outcome
    def pytest_runtest_logreport(self, report: Any) -> None:
        with self.channel.closing_on_error():
            fields = {"compare": None, "traceback": [], **self.outcome(report, report.when)}
            fields.update(duration=report.duration, subtest=_subtest(report))
            outcome = fields["outcome"]
            self.count(category_of(report.when, outcome, fields["subtest"] is not None))
            record = self.header.record("report", **fields)
            self.channel.send(record, now=outcome in ("failed", "error"))

    def pytest_warning_recorded(
        self, warning_message: Any, when: str, nodeid: str, location: Any
    ) -> None:
        with self.channel.closing_on_error():
            category = warning_message.category
            fields = {"when": when, "nodeid": nodeid, "location": location}
            fields["category"] = category.__name__ if category else None
            fields.update(filename=warning_message.filename, lineno=warning_message.lineno)
            fields["message"] = str(warning_message.message)
            self.channel.send(self.header.record("warning", **fields))

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, exitstatus: int) -> None:
        with self.channel.closing_on_error():
            fields = {"exitstatus": int(exitstatus), "counts": self.counts}
            fields["duration"] = time.monotonic() - self.started
            self.channel.send(self.header.record("finish", **fields), now=True)

    def pytest_unconfigure(self) -> None:
        self.channel.close()
