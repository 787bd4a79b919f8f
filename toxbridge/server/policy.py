"""What a run request may do: the environment it may set, and tox's argv. Pure."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from toxbridge.errors import ProtocolError
from toxbridge.wire import protocol

# What a request may set in tox's environment; the server adds more with --allow-env.
DEFAULT_ALLOWED_ENV = (
    "COLUMNS",
    "LINES",
    "TERM",
    "FORCE_COLOR",
    "NO_COLOR",
    "PY_COLORS",
    "PYTEST_ADDOPTS",
    "PYTHONHASHSEED",
    "PYTHONWARNINGS",
    "PYTHONFAULTHANDLER",
    "PYTHONDEVMODE",
    "TOXBRIDGE_USER_*",
)


def check_request(request: protocol.Run, allowed: Sequence[str]) -> None:
    """Refuse, as `bad-args`, what cannot reach tox: unpassable text, disallowed variables."""
    for text in (*request.args, *request.env, *request.env.values()):
        if not _passable(text):
            raise ProtocolError(
                protocol.ErrorCode.BAD_ARGS.value,
                f"{text!r} cannot be passed to a process (NUL or an unpaired surrogate)",
                request.id,
            )
    for name in request.env:
        if not env_name_allowed(name, allowed):
            raise ProtocolError(
                protocol.ErrorCode.BAD_ARGS.value,
                f"environment variable {name!r} may not be set by a client; allowed: "
                f"{', '.join(allowed)} (the server adds more with --allow-env)",
                request.id,
            )


def build_env(
    request: protocol.Run, allowed: Sequence[str], base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """tox's environment: the server's, the request's allowed overrides, and colour."""
    check_request(request, allowed)
    env = dict(os.environ if base is None else base)
    env.update(request.env)
    if request.color:
        env.pop("NO_COLOR", None)
        env.update(FORCE_COLOR="1", PY_COLORS="1")
    return env


def _passable(text: str) -> bool:
    """True when `text` can become an argv or environ entry."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return False
    return True


def env_name_allowed(name: str, allowed: Sequence[str]) -> bool:
    return any(
        name.startswith(pattern[:-1]) if pattern.endswith("*") else name == pattern
        for pattern in allowed
    )
