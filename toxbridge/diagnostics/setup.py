"""Env setup failures in tox's own output: what keeps an env from running its commands.

Pure and streaming: feed tox's stdout and stderr as they come (`feed(bytes, stream)`, any
chunking), get `SetupEvent`s: a `SetupFailure` when an env cannot be set up, a
`SetupPassed` once an env reaches its commands or ends without a setup failure (its
older setup failure is then gone). What tox 4 prints for each, on stdout unless said:

    deps: install_deps> python -I -m pip install no-such-pkg        (an install step)
    ERROR: No matching distribution found for no-such-pkg           (pip's words, stderr)
    deps: exit 1 (7.49 seconds) /root> python -I -m pip install …   (the step failed)
    nopy: failed with could not find python interpreter matching …  (any setup error)
    ROOT: HandledError| ToxIni failed loading /root/tox.ini due to … (the configuration)
        [line  3]: '[testenv\\n'                                     (where, for ini errors)
    py: commands[0]> pytest                                          (setup passed)
    py: OK ✔ in 0.46 seconds     /   py: FAIL code 1 (…)             (tox p shows only these)

A missing interpreter that tox skips (`skip_missing_interpreters`) is not a failure.
`section_line` finds where an env is configured, so the diagnostic sits on its section
of tox.ini, setup.cfg, pyproject.toml or tox.toml (`CONFIG_FILES`, tox's own order).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from toxbridge.diagnostics.ansi import decode_lines
from toxbridge.diagnostics.lines import PartialLine

CONFIG_FILES = ("tox.ini", "setup.cfg", "pyproject.toml", "tox.toml")
ROOT_ENV = ""  # what a failure of the configuration itself (tox's ROOT) belongs to

_STEP = re.compile(r"^(?P<env>[\w.-]+): (?P<step>install_\w+|\w+_package\w*)> ")
_COMMANDS = re.compile(r"^(?P<env>[\w.-]+): commands(?:_pre)?\[\d+\]> ")
_EXIT = re.compile(r"^(?P<env>[\w.-]+): exit (?P<code>-?\d+) \(.*?> (?P<command>.*?)(?: pid=\d+)?$")
_ENDED = re.compile(r"^\s*(?P<env>[\w.-]+): (?:OK\b|FAIL code \d+)")
_FAILED_WITH = re.compile(r"^(?P<env>[\w.-]+): failed with (?P<message>.+)$")
_HANDLED = re.compile(r"^ROOT: HandledError\| (?P<message>.+)$")
_INI_LINE = re.compile(r"^\s*\[line\s+(?P<line>\d+)\]: ")
_LOADING = re.compile(r"failed loading (?P<path>\S+) due to")
_PIP_ERROR = re.compile(r"^ERROR: (?P<message>.+)$")
# a word each pattern above needs, as it appears in the raw bytes (colours never split one)
_MARKERS = re.compile(
    rb"failed with |install_|_package|commands|HandledError|\[line| exit |OK|FAIL code|ERROR: "
)


@dataclass(frozen=True, slots=True)
class SetupFailure:
    """`env` could not be set up (`ROOT_ENV`: the configuration could not be read).
    `path`/`line`: where tox itself located the error (an ini parsing error), if it did."""

    env: str
    message: str
    path: str | None = None
    line: int | None = None


@dataclass(frozen=True, slots=True)
class SetupPassed:
    env: str


SetupEvent = SetupFailure | SetupPassed


class SetupScanner:
    def __init__(self) -> None:
        self._partial = {"stdout": PartialLine(), "stderr": PartialLine()}
        self._failed: set[str] = set()  # envs whose setup failed in this output
        self._passed: set[str] = set()
        self._step: dict[str, str] = {}  # env → the install step it is in
        self._pip_error: str | None = None  # the last `ERROR:` line since a step began
        self._handled: SetupFailure | None = None  # a ROOT error, waiting for its location

    def feed(self, data: bytes, stream: str = "stdout") -> list[SetupEvent]:
        partial = self._partial[stream]
        head, newline, tail = data.rpartition(b"\n")
        if not newline:
            partial.hold(data)
            return []
        partial.hold(head)
        block = partial.take()
        partial.hold(tail)
        return self._lines(self._decode(block), stream)

    def close(self) -> list[SetupEvent]:
        found = self._lines(self._decode(self._partial["stderr"].take()), "stderr")
        found += self._lines(self._decode(self._partial["stdout"].take()), "stdout")
        self._flush_handled(found)
        return found

    def _decode(self, block: bytes) -> list[str]:
        """The lines of `block` (whole lines) that can matter, as text. This runs on every
        byte of a run's output: lines without a word some pattern needs are skipped in bytes,
        unread, except while a configuration error may still get its location (there every
        line counts, as it ends the wait)."""
        if self._handled is not None or b"HandledError" in block:
            return decode_lines(block)
        candidates: list[bytes] = []
        end = -1
        for hit in _MARKERS.finditer(block):
            if hit.start() <= end:
                continue  # another word of a line already taken
            start = block.rfind(b"\n", 0, hit.start()) + 1
            end = block.find(b"\n", hit.end())
            end = len(block) if end < 0 else end
            candidates.append(block[start:end])
        return decode_lines(b"\n".join(candidates)) if candidates else []

    def _lines(self, lines: list[str], stream: str) -> list[SetupEvent]:
        found: list[SetupEvent] = []
        for line in lines:
            if stream == "stdout":
                self._line(line, found)
            elif self._step and (error := _PIP_ERROR.match(line)):
                self._pip_error = error["message"].strip()
        return found

    def _line(self, line: str, found: list[SetupEvent]) -> None:
        if self._handled is not None:
            if located := _INI_LINE.match(line):
                self._handled = SetupFailure(
                    ROOT_ENV, self._handled.message, self._handled.path, int(located["line"])
                )
                self._flush_handled(found)
                return
            self._flush_handled(found)
        if match := _STEP.match(line):
            self._step[match["env"]] = match["step"]
            self._pip_error = None
        elif match := _COMMANDS.match(line):
            self._step.pop(match["env"], None)
            self._pass(match["env"], found)
        elif match := _EXIT.match(line):
            step = self._step.pop(match["env"], None)
            if step is not None and match["code"] != "0":
                detail = f"exit {match['code']}: {match['command']}"
                if self._pip_error:
                    detail = f"{self._pip_error} ({detail})"
                self._fail(SetupFailure(match["env"], f"{step} failed: {detail}"), found)
        elif match := _FAILED_WITH.match(line):
            self._step.pop(match["env"], None)
            self._fail(SetupFailure(match["env"], match["message"].strip()), found)
        elif (match := _ENDED.match(line)) and match["env"] not in self._failed:
            self._pass(match["env"], found)
        elif match := _HANDLED.match(line):
            loading = _LOADING.search(match["message"])
            path = loading["path"] if loading else None
            self._handled = SetupFailure(ROOT_ENV, match["message"].strip(), path)
        elif self._step and (error := _PIP_ERROR.match(line)):
            self._pip_error = error["message"].strip()

    def _pass(self, env: str, found: list[SetupEvent]) -> None:
        if env not in self._passed:
            self._passed.add(env)
            found.append(SetupPassed(env))

    def _fail(self, failure: SetupFailure, found: list[SetupEvent]) -> None:
        self._failed.add(failure.env)
        found.append(failure)

    def _flush_handled(self, found: list[SetupEvent]) -> None:
        if self._handled is not None:
            found.append(self._handled)
            self._handled = None


def section_line(file_name: str, text: str, env: str) -> int:
    """The 1-based line where `env` is configured in the config file `file_name` holding
    `text`: its own section, else the section every env shares, else tox's, else 1."""
    if file_name.endswith(".toml"):
        prefix = "tool.tox." if file_name == "pyproject.toml" else ""
        tables = [f"{prefix}env.{env}", f'{prefix}env."{env}"', f"{prefix}env_run_base"]
        tables.append(prefix.rstrip(".") or "env_run_base")
        headers = [f"[{table}]" for table in tables]
        # pyproject.toml may hold an ini in `legacy_tox_ini`: its sections count too
        headers[-1:-1] = [f"[testenv:{env}]", "[testenv]"]
    else:
        own = "tox:tox" if file_name == "setup.cfg" else "tox"
        headers = [f"[testenv:{env}]", "[testenv]", f"[{own}]"]
    if not env:
        headers = headers[-1:]
    lines = [line.strip() for line in text.splitlines()]
    for header in headers:
        for number, line in enumerate(lines, start=1):
            if line == header or (
                line.startswith(header) and line[len(header) :].lstrip()[:1] in "#;"
            ):
                return number
    return 1
