"""Text forms of diagnostics for `toxbridge parse`: JSON lines, quickfix, GitHub."""

from __future__ import annotations

import json
from collections.abc import Callable
from enum import Enum

from toxbridge.diagnostics.model import Diagnostic


class OutputFormat(str, Enum):
    JSON = "json"
    QUICKFIX = "quickfix"
    GITHUB = "github"


def to_json(diagnostic: Diagnostic) -> str:
    return json.dumps(diagnostic.to_dict(), ensure_ascii=False)


def to_quickfix(diagnostic: Diagnostic) -> str:
    """`path:line:col: severity: message [env: test id]`, one line, as Vim, Emacs and VS Code
    read it."""
    column = diagnostic.column or 1
    message = diagnostic.message.replace("\n", " ⏎ ")
    # With several tox envs the same failure comes once per env: the env tells them apart.
    names = [name for name in (diagnostic.env, diagnostic.test) if name]
    suffix = f" [{': '.join(names)}]" if names else ""
    head = f"{diagnostic.path}:{diagnostic.line}:{column}"
    return f"{head}: {diagnostic.severity.value}: {message}{suffix}"


def to_github(diagnostic: Diagnostic) -> str:
    """A workflow command; GitHub wants `%`, CR and LF escaped, and `,`/`:` in properties."""
    command = "error" if diagnostic.severity.value == "error" else "warning"
    properties = [f"file={_property(diagnostic.path)}", f"line={diagnostic.line}"]
    if diagnostic.column is not None:
        properties.append(f"col={diagnostic.column}")
    if diagnostic.test:
        title = ": ".join(name for name in (diagnostic.env, diagnostic.test) if name)
    else:
        title = f"tox {diagnostic.env}" if diagnostic.env else "pytest"
    properties.append(f"title={_property(title)}")
    return f"::{command} {','.join(properties)}::{_data(diagnostic.message)}"


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


FORMATTERS: dict[OutputFormat, Callable[[Diagnostic], str]] = {
    OutputFormat.JSON: to_json,
    OutputFormat.QUICKFIX: to_quickfix,
    OutputFormat.GITHUB: to_github,
}
