"""Snapshots as JSON, both ways: what the HTTP API sends and what an attached view rebuilds.

``snapshot_to_dict(snapshot)`` is a plain dict of JSON types; ``snapshot_from_dict(d)`` makes
the same frozen ``Snapshot`` again, equal to the original (floats keep every bit: JSON writes
them with ``repr``). The dict has one key more than the Snapshot: ``version``, which says how
the rest is laid out; a reader refuses any version but its own.

The layout follows ``simulator.stats`` field by field, read from the dataclasses' type hints,
so a field added there travels without touching this module (bump ``VERSION`` when the
meaning of one changes): records (``OrderCounts``, ``ProcessRow``, ``BookView``, ``TapeEntry``)
become objects, tuples become arrays, ``RunState`` its name, ``None`` null. Reading checks
every value against its field's type and names the path of the first one that does not fit
(``orders.placed: expected int, got str``); keys it does not know are ignored, and a missing
key takes the field's default when it has one.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import types
import typing
from typing import Any

from simulator import stats
from simulator.stats import Snapshot

VERSION = 1


class SnapshotJsonError(ValueError):
    """A dict that is not a Snapshot of this ``VERSION``; the message names the field."""


# -- writing -----------------------------------------------------------------------------------


def snapshot_to_dict(snapshot: Snapshot) -> dict[str, Any]:
    """The Snapshot as JSON types, with ``version`` first."""
    out: dict[str, Any] = {"version": VERSION}
    out.update(_plain(snapshot))
    return out


def snapshot_to_json(snapshot: Snapshot) -> bytes:
    """Compact UTF-8 JSON of ``snapshot_to_dict`` (one line: it fits an SSE data field)."""
    return json.dumps(snapshot_to_dict(snapshot), separators=(",", ":")).encode()


_FIELDS: dict[type, tuple[str, ...]] = {}
_SCALARS = (int, float, str, bool, type(None))


def _plain(value: Any) -> Any:
    # called for every value of every Snapshot served (10 a second): scalars first, field
    # names cached per record class (dataclasses.fields is slow)
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, enum.Enum):
        return value.value
    cls = type(value)
    names = _FIELDS.get(cls)
    if names is None:
        if not dataclasses.is_dataclass(cls):
            raise TypeError(f"a Snapshot holds no {cls.__name__}")
        names = _FIELDS[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return {name: _plain(getattr(value, name)) for name in names}


# -- reading -----------------------------------------------------------------------------------


def snapshot_from_dict(data: object) -> Snapshot:
    """The Snapshot ``data`` describes; SnapshotJsonError naming the first field that is wrong."""
    if not isinstance(data, dict):
        raise SnapshotJsonError(f"a Snapshot is a JSON object, not {type(data).__name__}")
    version = data.get("version")
    if version != VERSION:
        raise SnapshotJsonError(f"version: this reader knows version {VERSION}, not {version!r}")
    snapshot: Snapshot = _record(Snapshot, data, "")
    return snapshot


def snapshot_from_json(text: str | bytes) -> Snapshot:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise SnapshotJsonError(f"not JSON: {exc}") from None
    return snapshot_from_dict(data)


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    # resolved once per record class: stats uses ``from __future__ import annotations``
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls, vars(stats))
    return _HINTS[cls]


def _record(cls: type, data: object, path: str) -> Any:
    if not isinstance(data, dict):
        raise SnapshotJsonError(f"{path or cls.__name__}: expected an object, got {_kind(data)}")
    hints = _hints(cls)
    values = {}
    for f in dataclasses.fields(cls):
        where = f"{path}.{f.name}" if path else f.name
        if f.name in data:
            values[f.name] = _value(hints[f.name], data[f.name], where)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise SnapshotJsonError(f"{where}: missing")
    return cls(**values)


def _value(tp: Any, value: object, path: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (types.UnionType, typing.Union):
        options = typing.get_args(tp)
        if value is None and type(None) in options:
            return None
        (inner,) = [t for t in options if t is not type(None)]  # stats has only `X | None`
        return _value(inner, value, path)
    if origin is tuple:
        if not isinstance(value, list):
            raise SnapshotJsonError(f"{path}: expected an array, got {_kind(value)}")
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_value(args[0], v, f"{path}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise SnapshotJsonError(f"{path}: expected {len(args)} items, got {len(value)}")
        return tuple(_value(t, v, f"{path}[{i}]") for i, (t, v) in enumerate(zip(args, value)))
    if origin is dict:
        if not isinstance(value, dict):
            raise SnapshotJsonError(f"{path}: expected an object, got {_kind(value)}")
        _key, item = typing.get_args(tp)
        return {k: _value(item, v, f"{path}.{k}") for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        return _record(tp, value, path)  # type: ignore[arg-type]
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        try:
            return tp(value)
        except ValueError:
            names = ", ".join(m.value for m in tp)
            raise SnapshotJsonError(f"{path}: expected one of {names}, got {value!r:.40}") from None
    return _scalar(tp, value, path)


def _scalar(tp: Any, value: object, path: str) -> Any:
    # bool is an int to Python, never to a Snapshot; an int is a fine float (5000 for 5000.0)
    if tp is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if tp in (int, str, bool) and type(value) is tp:
        return value
    name = getattr(tp, "__name__", str(tp))
    raise SnapshotJsonError(f"{path}: expected {name}, got {_kind(value)}")


def _kind(value: object) -> str:
    return "null" if value is None else f"{type(value).__name__} {value!r:.40}"
