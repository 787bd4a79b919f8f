"""The bridge's own JSON-RPC methods and their parameter types.

pygls structures known methods' params with lsprotocol's converter (camelCase on the
wire); without these types a custom method's params would arrive as namedtuples, which
cannot hold arbitrary environment variable names.
"""

from __future__ import annotations

from typing import Any

import attrs
from lsprotocol import types

RUN = "tox/run"
CANCEL = "tox/cancel"
PING = "tox/ping"
ENVS = "tox/envs"
OUTPUT = "tox/output"
STATUS = "tox/status"
TEST_RESULTS = "tox/testResults"
TEST_RUN = "tox/testRun"
WATCH = "tox/watch"
DISCOVER = "tox/discover"
RUN_TESTS = "tox/runTests"

COMMAND_RUN = "toxbridge.run"
COMMAND_CANCEL = "toxbridge.cancel"
COMMAND_PING = "toxbridge.ping"
COMMAND_ENVS = "toxbridge.envs"
COMMAND_RUN_TESTS = "toxbridge.runTests"
COMMAND_RUN_FILE = "toxbridge.runFile"


class PlainJson(dict[str, Any]):
    """A result that is JSON values already (dicts, lists, strings, numbers, None): sent as
    it is. pygls would otherwise walk every value of a result with its converter, which for
    a 2,000-test `tox/discover` tree cost more than encoding it."""


@attrs.define
class RunParams:
    args: list[str] | None = None
    env: dict[str, str] | None = None
    work_done_token: types.ProgressToken | None = None


@attrs.define
class NoParams:
    """`{}`; accepts (and ignores) a work-done token like any LSP request."""

    work_done_token: types.ProgressToken | None = None


@attrs.define
class DiscoverParams:
    env: str | None = None
    refresh: bool = False
    work_done_token: types.ProgressToken | None = None


@attrs.define
class RunTestsParams:
    ids: list[str] = attrs.field(factory=list)
    env: str | None = None
    origin: str | None = None
    work_done_token: types.ProgressToken | None = None


@attrs.define
class DiscoverRequest:
    id: int | str
    params: DiscoverParams | None = None
    method: str = DISCOVER
    jsonrpc: str = "2.0"


@attrs.define
class RunTestsRequest:
    id: int | str
    params: RunTestsParams | None = None
    method: str = RUN_TESTS
    jsonrpc: str = "2.0"


@attrs.define
class RunRequest:
    id: int | str
    params: RunParams | None = None
    method: str = RUN
    jsonrpc: str = "2.0"


@attrs.define
class PlainRequest:
    id: int | str
    method: str
    params: NoParams | None = None
    jsonrpc: str = "2.0"


MESSAGE_TYPES: dict[str, type[Any]] = {
    RUN: RunRequest,
    CANCEL: PlainRequest,
    PING: PlainRequest,
    ENVS: PlainRequest,
    DISCOVER: DiscoverRequest,
    RUN_TESTS: RunTestsRequest,
}


def command_object(name: str, arguments: tuple[Any, ...], required: str) -> dict[str, Any]:
    """A command's one `{…}` argument, with `required` in it, and `env` a string if given."""
    if len(arguments) != 1 or not isinstance(arguments[0], dict):
        raise ValueError(f"{name} takes one object argument, e.g. [{{{required!r}: …}}]")
    options: dict[str, Any] = arguments[0]
    if required not in options:
        raise ValueError(f"{name}: {required!r} is missing")
    if options.get("env") is not None and not isinstance(options["env"], str):
        raise ValueError(f"{name}: 'env' must be a string")
    return options


def command_run_tests_arguments(arguments: tuple[Any, ...]) -> tuple[list[str], str | None]:
    options = command_object(COMMAND_RUN_TESTS, arguments, "ids")
    ids = options["ids"]
    if not (isinstance(ids, list) and all(isinstance(item, str) for item in ids)):
        raise ValueError(f"{COMMAND_RUN_TESTS}: 'ids' must be a list of strings")
    return ids, options.get("env")


def command_run_file_arguments(arguments: tuple[Any, ...]) -> tuple[str, str | None]:
    options = command_object(COMMAND_RUN_FILE, arguments, "uri")
    if not isinstance(options["uri"], str):
        raise ValueError(f"{COMMAND_RUN_FILE}: 'uri' must be a string")
    return options["uri"], options.get("env")


def command_run_arguments(
    arguments: tuple[Any, ...],
) -> tuple[list[str] | None, dict[str, str] | None]:
    """`toxbridge.run`'s arguments: tox args as strings, or one `{args?, env?}` object."""
    if not arguments:
        return None, None
    if all(isinstance(item, str) for item in arguments):
        return list(arguments), None
    if len(arguments) == 1 and isinstance(arguments[0], dict):
        options = arguments[0]
        args, env = options.get("args"), options.get("env")
        if args is not None and not (
            isinstance(args, list) and all(isinstance(item, str) for item in args)
        ):
            raise ValueError("toxbridge.run: 'args' must be a list of strings")
        if env is not None and not (
            isinstance(env, dict)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in env.items())
        ):
            raise ValueError("toxbridge.run: 'env' must map names to strings")
        return args, env
    raise ValueError(
        'toxbridge.run takes tox arguments as strings (e.g. ["-e", "py"]) or one object {args, env}'
    )
