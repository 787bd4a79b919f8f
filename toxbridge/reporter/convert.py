"""JSON values into frozen dataclasses, checked against their type hints. Pure.

`builder(cls, error)` compiles, once, a function that turns a JSON object into `cls`,
raising `error(message)` with the field's dotted name when a value has the wrong shape.
The checks are compiled from the hints up front (a reader decodes thousands of records a
second on a core it shares with tox); an error's index into an array is worked out only
once something is wrong. Hints it knows: str, int, float (an int is accepted), Any,
`X | None`, `tuple[X, ...]`, `tuple[X, Y]`, `Mapping[str, X]` and dataclasses of these.
"""

from __future__ import annotations

import itertools
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import fields
from typing import Any

Convert = Callable[[Any, str, str], Any]  # (value, where, field name) -> value
Build = Callable[[Mapping[str, Any], str], Any]  # (object, where) -> instance

_DESCRIPTIONS = {str: "a string", int: "an integer", float: "a number"}


def builder(cls: type[Any], error: Callable[[str], Exception]) -> Build:
    hints = typing.get_type_hints(cls)
    converters = [(field.name, _compile(hints[field.name], error)) for field in fields(cls)]

    def build(data: Mapping[str, Any], where: str) -> Any:
        values = {}
        for name, convert in converters:
            try:
                value = data[name]
            except KeyError:
                raise error(f"{where}: field {name!r} is missing") from None
            values[name] = convert(value, where, name)
        return cls(**values)

    return build


def _compile(hint: Any, error: Callable[[str], Exception]) -> Convert:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return lambda value, where, name: value
    if origin in (typing.Union, types.UnionType):  # X | None only
        (inner,) = (_compile(arm, error) for arm in args if arm is not type(None))
        return lambda value, where, name: None if value is None else inner(value, where, name)
    if hasattr(hint, "__dataclass_fields__"):
        return _nested(builder(hint, error), error)
    if origin is tuple:
        return _tuple(args, error)
    if origin is Mapping:
        return _mapping(_compile(args[1], error), args[1] is Any, error)
    return _scalar(hint, error)


def wrong(value: Any, expected: str, where: str, name: str) -> str:
    shown = repr(value)
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    return f"{where}: field {name!r} must be {expected}, not {shown}"


def _scalar(hint: type, error: Callable[[str], Exception]) -> Convert:
    description = _DESCRIPTIONS[hint]

    def convert(value: Any, where: str, name: str) -> Any:
        kind = type(value)  # JSON gives exact types: bool is not an int here
        if kind is hint:
            return value
        if hint is float and kind is int:
            return float(value)
        raise error(wrong(value, description, where, name))

    return convert


def _nested(build: Build, error: Callable[[str], Exception]) -> Convert:
    def convert(value: Any, where: str, name: str) -> Any:
        if type(value) is not dict:
            raise error(wrong(value, "an object", where, name))
        return build(value, f"{where}.{name}")

    return convert


def _tuple(args: tuple[Any, ...], error: Callable[[str], Exception]) -> Convert:
    items = [_compile(arg, error) for arg in args if arg is not Ellipsis]
    repeated = len(args) == 2 and args[1] is Ellipsis
    expected = "an array" if repeated else f"an array of {len(args)}"

    def convert(value: Any, where: str, name: str) -> tuple[Any, ...]:
        if type(value) is not list or (not repeated and len(value) != len(items)):
            raise error(wrong(value, expected, where, name))
        try:
            return tuple(
                [item(element, where, name) for element, item in zip(value, each(), strict=False)]
            )
        except Exception:  # say which element: worked out only now, once it is wrong
            for index, (element, item) in enumerate(zip(value, each(), strict=False)):
                item(element, where, f"{name}[{index}]")
            raise

    def each() -> Iterable[Convert]:
        return itertools.repeat(items[0]) if repeated else items

    return convert


def _mapping(values: Convert, anything: bool, error: Callable[[str], Exception]) -> Convert:
    def convert(value: Any, where: str, name: str) -> Any:
        if type(value) is not dict or not all(type(key) is str for key in value):
            raise error(wrong(value, "an object", where, name))
        if anything:
            return value
        return {key: values(item, where, f"{name}.{key}") for key, item in value.items()}

    return convert
