"""`toxbridge run`'s use of test events: `--report-log FILE` and the end-of-run summary.

`RunResults` takes the run's `started` and `test` messages as they come. The records'
paths are the env's, inside the container: the server's directory (`started.cwd`) maps
to the local project directory, the one whose pyproject.toml configured this client or
else the current one. At the end:

- `write_report_log(path)`: pytest-reportlog's JSON lines for every record that has one
  (`reporter.events.reportlog_lines`), so tools that read `pytest --report-log` read it;
- `summary()`: one line per env, `py: 5 passed, 2 failed, 1 skipped in 1.20 s`, after
  one `path:line: message [env|node id]` per failure at local paths.

A run without events (an older server, `serve --no-test-events`, a broken channel, an
env without pytest) has no records: the report log is then empty and the summary says
nothing. Nothing here prints; the caller decides where lines go.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from toxbridge.reporter import events
from toxbridge.wire import protocol

ORDER = ("failed", "error", "passed", "skipped", "xfailed", "xpassed")
FAILURES = ("failed", "error")


@dataclass
class RunResults:
    """The records of one run, their paths mapped to `local_root` once `started` says where
    the server ran."""

    local_root: str
    report_log: bool = False  # the run asks for reportlog data
    records: list[events.Record] = field(default_factory=list)
    bad: int = 0
    _map: events.PathMap | None = None

    def started(self, message: protocol.Started) -> None:
        server_root = os.path.normpath(message.cwd)
        local = os.path.normpath(self.local_root)
        if server_root != local:
            self._map = events.prefix_map([(server_root, local)])

    def add(self, message: protocol.Test) -> None:
        for record in message.records():
            if isinstance(record, events.BadRecord):
                self.bad += 1
            else:
                mapped = events.map_paths(record, self._map) if self._map else record
                self.records.append(mapped)

    def reportlog_text(self) -> str:
        """The report log's content: one JSON object per line."""
        return "".join(f"{line}\n" for line in events.reportlog_lines(self.records))

    def write_report_log(self, path: str) -> None:
        with open(path, "w", encoding="utf-8") as out:
            out.write(self.reportlog_text())

    def summary(self, cwd: str | None = None) -> list[str]:
        """The failures, then one line per env; nothing for a run without events."""
        where = cwd or os.getcwd()
        envs = self._envs()
        failures = sorted(self._failures(), key=lambda report: list(envs).index(report.env))
        lines = [_failure_line(report, where) for report in failures]
        lines += [_env_line(env, *counts) for env, counts in envs.items()]
        return lines

    def _failures(self) -> Iterable[events.Report]:
        for record in self.records:
            if isinstance(record, events.Report) and record.outcome in FAILURES:
                yield record

    def _envs(self) -> dict[str, tuple[Counter[str], float | None]]:
        """Per env: its outcome counts and duration, from pytest's own finish records
        (summed over its sessions), else counted from the reports that arrived."""
        finished: dict[str, tuple[Counter[str], float]] = {}
        counted: dict[str, Counter[str]] = {}
        for record in self.records:
            if isinstance(record, events.Finish) and record.worker is None:
                counts, seconds = finished.get(record.env, (Counter(), 0.0))
                counts.update({k: v for k, v in record.counts.items() if k in ORDER})
                finished[record.env] = (counts, seconds + record.duration)
            elif isinstance(record, events.Report | events.Session):
                counted.setdefault(record.env, Counter())
                if isinstance(record, events.Report) and _counts(record):
                    counted[record.env][record.outcome] += 1
        result: dict[str, tuple[Counter[str], float | None]] = {}
        for env in dict.fromkeys([*counted, *finished]):
            result[env] = finished.get(env) or (counted.get(env, Counter()), None)
        return result


def _counts(report: events.Report) -> bool:
    """Whether pytest's summary line counts this phase's report."""
    return report.when == "call" or report.outcome not in ("passed",)


def _env_line(env: str, counts: Counter[str], seconds: float | None) -> str:
    parts = [f"{counts[word]} {_plural(word, counts[word])}" for word in ORDER if counts[word]]
    text = ", ".join(parts) or "no tests ran"
    timing = f" in {seconds:.2f} s" if seconds is not None else ""
    return f"{env}: {text}{timing}"


def _plural(word: str, n: int) -> str:
    return "errors" if word == "error" and n != 1 else word  # as pytest says it


def _failure_line(report: events.Report, cwd: str) -> str:
    crash = report.crash
    message = (report.message or (crash.message if crash else "") or report.outcome).strip()
    message = message.splitlines()[0] if message else report.outcome
    test = f"[{report.env}|{report.nodeid}]"
    if report.when != "call":
        test = f"[{report.env}|{report.nodeid} {report.when}]"
    if crash is None or not crash.path:
        return f"{report.nodeid}: {message} {test}"
    path = crash.path
    if os.path.isabs(path):
        relative = os.path.relpath(path, cwd)
        path = path if relative.startswith("..") else relative
    line = f":{crash.line}" if crash.line is not None else ""
    return f"{path}{line}: {message} {test}"
