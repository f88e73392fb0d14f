"""Typed values from YAML and command-line text: the checks behind :mod:`labelnoise.config`.

``build(cls, mapping, path)`` instantiates a dataclass from its defaults plus a mapping of
overrides; ``coerce(value, type, key)`` checks one value. Errors are ``ValueError`` naming
the dotted key, the expected type and the value received.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["CliValue", "build", "coerce", "plain"]


@dataclass(frozen=True)
class CliValue:
    """A command-line value: its raw text and its YAML parse."""

    raw: str
    parsed: Any


def build(cls: type, data: Any, path: str, *, extra: dict[str, Any] | None = None) -> Any:
    """Instantiate dataclass ``cls`` from defaults plus the overrides in ``data``."""
    where = path or "recipe"
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ValueError(f"{where} must be a mapping; got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = dict(extra or {})
    for k, v in data.items():
        key = f"{path}.{k}" if path else k
        if k not in fields or k in kwargs:
            allowed = sorted(n for n in fields if n not in (extra or {}))
            raise ValueError(f"unknown key {key!r}; expected one of {allowed}")
        t = hints[k]
        if isinstance(t, type) and dataclasses.is_dataclass(t):
            kwargs[k] = build(t, v, key)
        else:
            kwargs[k] = coerce(v, t, key)
    for name, f in fields.items():
        if name in kwargs:
            continue
        t = hints[name]
        if (
            isinstance(t, type)
            and dataclasses.is_dataclass(t)
            and f.default_factory is dataclasses.MISSING
        ):
            kwargs[name] = build(t, {}, f"{path}.{name}" if path else name)
    return cls(**kwargs)


def coerce(value: Any, t: Any, key: str) -> Any:
    """Check ``value`` against type ``t``; command-line strings may satisfy a ``str``."""
    if isinstance(value, CliValue):
        try:
            return coerce(value.parsed, t, key)
        except ValueError:
            if _allows_str(t):
                return value.raw
            raise
    origin = typing.get_origin(t)
    args = typing.get_args(t)
    if t is Any:
        return plain(value)
    if origin is Literal:
        if value not in args:
            raise ValueError(f"{key} must be one of {list(args)}; got {value!r}")
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return coerce(value, a, key)
            except ValueError as e:
                errors.append(str(e))
        raise ValueError(f"{key} must be {_type_name(t)}; got {value!r}")
    if origin in (list, Sequence, tuple):
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{key} must be a list; got {value!r}")
        inner = args[0] if args else Any
        return [coerce(v, inner, f"{key}[{i}]") for i, v in enumerate(value)]
    if origin in (dict, Mapping):
        if not isinstance(value, Mapping):
            raise ValueError(f"{key} must be a mapping; got {value!r}")
        inner = args[1] if len(args) == 2 else Any
        return {str(k): coerce(v, inner, f"{key}.{k}") for k, v in value.items()}
    if t is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{key} must be a bool (true/false); got {value!r}")
        return value
    if t is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{key} must be an int; got {value!r}")
        return value
    if t is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{key} must be a float; got {value!r}")
        return float(value)
    if t is str:
        if not isinstance(value, str):
            raise ValueError(f"{key} must be a string; got {value!r}")
        return value
    if t is type(None):
        if value is not None:
            raise ValueError(f"{key} must be null; got {value!r}")
        return None
    if isinstance(t, type) and dataclasses.is_dataclass(t):
        return build(t, value, key)
    return plain(value)  # other classes (tensors, matrices): the builder checks them


def _allows_str(t: Any) -> bool:
    if t is str or t is Any:
        return True
    if typing.get_origin(t) in (typing.Union, types.UnionType):
        return any(_allows_str(a) for a in typing.get_args(t))
    return False


def _type_name(t: Any) -> str:
    if typing.get_origin(t) in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(t))
    if t is type(None):
        return "null"
    return getattr(t, "__name__", str(t))


def plain(value: Any) -> Any:
    if isinstance(value, CliValue):
        return value.parsed
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value
