"""`toxbridge parse`: turn a saved tox/pytest log into diagnostics on standard output.

Exit 0 whether or not the log holds failures: finding them is the job, not an error.
Only an unreadable input is an error (one line on stderr, non-zero exit).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from typing import BinaryIO

from toxbridge.errors import InputError

_CHUNK = 1 << 20


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "file",
        nargs="?",
        default="-",
        metavar="FILE",
        help="saved log to read (default: standard input, also with `-`)",
    )
    parser.add_argument(
        "--root",
        default=".",
        metavar="DIR",
        help="directory that relative paths in the log are relative to (default: .)",
    )
    parser.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="CONTAINER=LOCAL",
        help="replace the CONTAINER path prefix with LOCAL (repeatable; longest match wins)",
    )
    parser.add_argument(
        "--format",
        choices=["json", "quickfix", "github"],
        default="quickfix",
        help="json: one object per line; quickfix: path:line:col: severity: message; "
        "github: workflow annotations (default: quickfix)",
    )


def _mappings(pairs: list[str]) -> list[tuple[str, str]]:
    mappings = []
    for pair in pairs:
        container, sep, local = pair.partition("=")
        if not sep or not container or not local:
            raise InputError(f"--map expects CONTAINER=LOCAL, got {pair!r}")
        mappings.append((container, local))
    return mappings


def _chunks(stream: BinaryIO, name: str) -> Iterator[bytes]:
    try:
        while chunk := stream.read(_CHUNK):
            yield chunk
    except OSError as error:
        raise InputError(f"cannot read {name}: {error.strerror or error}") from error


def run(args: argparse.Namespace) -> int:
    from toxbridge.diagnostics import DiagnosticParser, PathMapper
    from toxbridge.diagnostics.formats import FORMATTERS, OutputFormat

    parser = DiagnosticParser(PathMapper(_mappings(args.map), root=args.root))
    formatter = FORMATTERS[OutputFormat(args.format)]
    out = sys.stdout
    if args.file == "-":
        stream, name = sys.stdin.buffer, "standard input"
    else:
        name = args.file
        try:
            stream = open(args.file, "rb")  # noqa: SIM115 - closed in the finally below
        except OSError as error:
            raise InputError(f"cannot read {name}: {error.strerror or error}") from error
    try:
        for chunk in _chunks(stream, name):
            for diagnostic in parser.feed(chunk):
                out.write(formatter(diagnostic) + "\n")
        for diagnostic in parser.close():
            out.write(formatter(diagnostic) + "\n")
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
    out.flush()
    return 0
