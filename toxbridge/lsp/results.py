"""One run's results as the editor sees them: diagnostics, `tox/testResults` entries and
the counts for progress, from the run's test events when it has them, else from its text.

With test events (`started.events`) each record that changes a test replaces that test's
diagnostics at once (a pass clears it), and nothing else: a partial run (`-k`, a file,
node ids) or a run of other envs at the same time touches no other test. The text parser
runs beside them for the envs that send no records (no pytest, or a broken channel);
its diagnostics for an env that sent records are dropped.

Known only through the text, a test's diagnostics are replaced as the parser completes
them, and a complete run with no pytest arguments of its own (nothing after `--`) proves
that the envs it ran have no other failures: their older ones are settled away. A run
that selected tests, stopped at the first failure or was cancelled proves nothing.
"""

from __future__ import annotations

import functools
import os
from collections import Counter
from collections.abc import Sequence

from toxbridge.diagnostics import Diagnostic, DiagnosticParser, PathMapper
from toxbridge.diagnostics.exact import COLLECT, STARTED, TEST, ExactResults, PathResolver
from toxbridge.lsp.publish import BridgeDiagnostics, path_to_uri
from toxbridge.lsp.testing.report import Json, ResultBatch, result_json
from toxbridge.lsp.testing.store import Owner
from toxbridge.reporter import events

_COUNTED = ("passed", "failed", "errored", "skipped")


def selected_envs(args: Sequence[str]) -> list[str]:
    """The envs tox `args` name (`-e a,b`, `--env a`, `-ea`); none: tox's default envs."""
    names: list[str] = []
    for index, arg in enumerate(args):
        if arg == "--":
            break
        value = None
        if arg in ("-e", "--env") and index + 1 < len(args):
            value = args[index + 1]
        elif arg.startswith("--env="):
            value = arg.partition("=")[2]
        elif arg.startswith("-e") and len(arg) > 2:
            value = arg[2:]
        if value:
            names.extend(name for name in value.split(",") if name)
    return names


def has_posargs(args: Sequence[str]) -> bool:
    return "--" in args and args.index("--") < len(args) - 1


class RunResults:
    def __init__(
        self,
        diagnostics: BridgeDiagnostics,
        mapper: PathMapper,
        workspace: str | None,
        args: Sequence[str],
        *,
        events_on: bool,
    ) -> None:
        self._diagnostics = diagnostics
        self._workspace = workspace
        self._args = list(args)
        self.parser = DiagnosticParser(mapper)
        exists = functools.lru_cache(maxsize=4096)(os.path.isfile)
        resolver = PathResolver(mapper, workspace, exists, mapper.local_roots)
        self.exact = ExactResults(resolver) if events_on else None
        self._text: dict[Owner, list[Diagnostic]] = {}
        self._text_envs: set[str] = set(selected_envs(args))
        self._failing: set[Owner] = set()  # owners with diagnostics from this run
        self.batch = ResultBatch()

    @property
    def count(self) -> int:
        """Diagnostics this run found (and still holds)."""
        return sum(len(self._diagnostics.store.of(o)) for o in self._failing)

    def _uri(self, path: str) -> str:
        return path_to_uri(path, self._workspace)

    # -- test events ---------------------------------------------------------------------

    def records(self, records: Sequence[events.Record | events.BadRecord]) -> None:
        if self.exact is None:
            return
        good = [record for record in records if not isinstance(record, events.BadRecord)]
        changes: dict[Owner, list[Diagnostic]] = {}
        for result in self.exact.feed(good):
            if result.state != STARTED:  # a rerun keeps its old diagnostics until it reports
                owner = Owner(result.env, TEST if result.kind == TEST else COLLECT, result.nodeid)
                changes[owner] = result.diagnostics()
                self._note(owner, bool(changes[owner]))
            entry = result_json(result, self._uri)
            if entry is not None:
                self.batch.add(entry)
        if changes:
            self._diagnostics.replace(changes, self._workspace)

    def _exact_envs(self) -> set[str]:
        return self.exact.envs if self.exact is not None else set()

    def _note(self, owner: Owner, failing: bool) -> None:
        if failing:
            self._failing.add(owner)
        else:
            self._failing.discard(owner)

    # -- text ------------------------------------------------------------------------------

    def output(self, data: bytes) -> None:
        self._text_diagnostics(self.parser.feed(data))

    def _text_diagnostics(self, found: list[Diagnostic]) -> None:
        if self.parser.status.env:
            self._text_envs.add(self.parser.status.env)
        exact = self._exact_envs()
        changes: dict[Owner, list[Diagnostic]] = {}
        for diagnostic in found:
            env = diagnostic.env or ""
            if env in exact or (not env and exact):
                continue  # this env's exact results say it better
            key = diagnostic.test or f"{diagnostic.path}:{diagnostic.line}"
            owner = Owner(env, TEST, key)
            self._text.setdefault(owner, []).append(diagnostic)
            changes[owner] = self._text[owner]
            self._note(owner, True)
        if changes:
            self._diagnostics.replace(changes, self._workspace)

    def close(self, *, complete: bool) -> None:
        """The run ended (`complete`: tox finished, not cancelled): the parser's last
        diagnostics, and the envs the text proved clean lose their older ones."""
        self._text_diagnostics(self.parser.close())
        if not complete or has_posargs(self._args):
            return
        for env in sorted((self._text_envs | {""}) - self._exact_envs()):
            self._diagnostics.settle(env, [owner for owner in self._text if owner.env == env])

    # -- progress --------------------------------------------------------------------------

    def counts(self) -> Counter[str] | None:
        """Test states so far from the events; None when the run has none (yet)."""
        if self.exact is None or not self.exact.envs:
            return None
        return self.exact.counts()

    def progress(self) -> tuple[str, int | None]:
        counts = self.counts()
        if counts is not None:
            env = self.exact.env if self.exact is not None else None
            where = f"{env}: " if env else ""
            done = ", ".join(f"{counts[state]} {state}" for state in _COUNTED if counts[state])
            percent = self.exact.percent() if self.exact is not None else None
            return f"{where}{done or 'running'}", percent
        status = self.parser.status
        where = f"{status.env}: " if status.env else ""
        if status.passed or status.failed:
            return f"{where}{status.passed} passed, {status.failed} failed", status.percent
        return f"{where}running", status.percent

    def take_results(self) -> list[Json]:
        return self.batch.take()
