"""Typed, validated access to the fields of a decoded message header. Pure."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from toxbridge.errors import ProtocolError

BAD_ARGS = "bad-args"


class HeaderFields:
    """Typed access to header fields; every failure is a `bad-args` error naming the field."""

    def __init__(self, header: Mapping[str, Any], request_id: str) -> None:
        self.header = header
        self.request_id = request_id
        self.kind = header["kind"]

    def fail(self, message: str) -> None:
        raise ProtocolError(BAD_ARGS, f"{self.kind}: {message}", self.request_id)

    def _get(self, name: str, types: type | tuple[type, ...], default: Any, what: str) -> Any:
        value = self.header.get(name, default)
        if value is _REQUIRED:
            self.fail(f"missing field {name!r}")
        if value is not default and (
            not isinstance(value, types) or (isinstance(value, bool) and bool not in _tuple(types))
        ):
            self.fail(f"field {name!r} must be {what}, got {type(value).__name__}")
        return value

    def string(self, name: str, default: Any = None) -> Any:
        return self._get(name, str, _REQUIRED if default is None else default, "a string")

    def optional_string(self, name: str) -> str | None:
        value = self.header.get(name)
        if value is not None and not isinstance(value, str):
            self.fail(f"field {name!r} must be a string or null")
        return value

    def boolean(self, name: str, default: bool | None = None) -> bool:
        return bool(self._get(name, bool, _REQUIRED if default is None else default, "a boolean"))

    def integer(self, name: str, default: int | None = None, minimum: int = 0) -> int:
        value = self._get(name, int, _REQUIRED if default is None else default, "an integer")
        if value < minimum:
            self.fail(f"field {name!r} must be at least {minimum}")
        return int(value)

    def number(self, name: str) -> float:
        value = self._get(name, (int, float), _REQUIRED, "a number")
        if not math.isfinite(value):
            self.fail(f"field {name!r} must be finite")
        return float(value)

    def optional_number(self, name: str) -> float | None:
        """A finite, non-negative number, or None when the field is absent or null."""
        if self.header.get(name) is None:
            return None
        value = self.number(name)
        if value < 0:
            self.fail(f"field {name!r} must not be negative")
        return value

    def optional_integer(self, name: str) -> int | None:
        """A non-negative integer, or None when the field is absent or null."""
        if self.header.get(name) is None:
            return None
        return self.integer(name)

    def string_list(self, name: str) -> tuple[str, ...]:
        value = self._get(name, list, _REQUIRED, "a list of strings")
        if not all(isinstance(item, str) for item in value):
            self.fail(f"field {name!r} must be a list of strings")
        return tuple(value)

    def string_map(self, name: str) -> dict[str, str]:
        value = self._get(name, dict, {}, "an object of strings")
        if not all(isinstance(item, str) for item in value.values()):
            self.fail(f"field {name!r} must map strings to strings")
        return dict(value)

    def object_list(self, name: str) -> tuple[Mapping[str, Any], ...]:
        value = self._get(name, list, _REQUIRED, "a list of objects")
        if not all(isinstance(item, dict) for item in value):
            self.fail(f"field {name!r} must be a list of objects")
        return tuple(value)


_REQUIRED: Any = object()


def _tuple(types: type | tuple[type, ...]) -> tuple[type, ...]:
    return types if isinstance(types, tuple) else (types,)
