"""Versioned JSON snapshots of inventories: `preflight snapshot` writes them, `--snapshot` reads them.

The (de)serialiser is driven by the dataclasses' type hints, so a new field needs no code here.
A snapshot that does not match the schema is refused with the JSON path of the first problem.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from preflight.errors import PreflightError, read_input
from preflight.gcpause import paused_gc
from preflight.inventory.model import Inventory

SCHEMA = "preflight-snapshot/v1"


class SnapshotError(PreflightError):
    pass


def to_dict(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(x) for x in obj]
    if isinstance(obj, dict):
        return {str(k): to_dict(v) for k, v in obj.items()}
    return obj


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def from_dict(cls: Any, data: Any, where: str = "$") -> Any:
    """Build `cls` from plain data, checking types; raise SnapshotError naming `where` on mismatch."""
    origin = typing.get_origin(cls)
    args = typing.get_args(cls)
    if cls is Any:
        return data
    if origin in (typing.Union, types.UnionType):
        if data is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return from_dict(inner[0], data, where)
    if isinstance(cls, type) and dataclasses.is_dataclass(cls):
        if not isinstance(data, dict):
            raise SnapshotError(f"{where}: expected an object, got {type(data).__name__}")
        hints = _hints(cls)
        kwargs = {}
        names = {f.name for f in dataclasses.fields(cls)}
        for key, value in data.items():
            if key not in names:
                raise SnapshotError(f"{where}.{key}: unknown field")
            kwargs[key] = from_dict(hints[key], value, f"{where}.{key}")
        return cls(**kwargs)
    if origin is tuple:
        if not isinstance(data, list):
            raise SnapshotError(f"{where}: expected a list, got {type(data).__name__}")
        return tuple(from_dict(args[0], x, f"{where}[{i}]") for i, x in enumerate(data))
    if origin is dict:
        if not isinstance(data, dict):
            raise SnapshotError(f"{where}: expected an object, got {type(data).__name__}")
        return {k: from_dict(args[1], v, f"{where}.{k}") for k, v in data.items()}
    if cls is bool:
        if not isinstance(data, bool):
            raise SnapshotError(f"{where}: expected true/false, got {data!r}")
        return data
    if cls is int:
        if isinstance(data, bool) or not isinstance(data, int):
            raise SnapshotError(f"{where}: expected an integer, got {data!r}")
        return data
    if cls is str:
        if not isinstance(data, str):
            raise SnapshotError(f"{where}: expected a string, got {data!r}")
        return data
    return data


class _Mismatch(Exception):
    """Raised by the fast converters; `loads` then re-runs `from_dict` to say where and why."""


def _fail(*_: Any) -> Any:
    raise _Mismatch


@functools.cache
def _fast(cls: Any) -> Callable[[Any], Any]:
    """A converter for `cls` with the same checks as `from_dict`, built once per type and without
    tracking the JSON path (large snapshots load several times faster; errors take the slow path)."""
    origin = typing.get_origin(cls)
    args = typing.get_args(cls)
    if cls is Any:
        return lambda d: d
    if origin in (typing.Union, types.UnionType):
        inner = _fast([a for a in args if a is not type(None)][0])
        if type(None) in args:
            return lambda d: None if d is None else inner(d)
        return inner
    if isinstance(cls, type) and dataclasses.is_dataclass(cls):
        hints = _hints(cls)
        convs = {f.name: _fast(hints[f.name]) for f in dataclasses.fields(cls)}

        def build(d: Any) -> Any:
            if type(d) is not dict:
                raise _Mismatch
            try:
                return cls(**{k: convs[k](v) for k, v in d.items()})
            except KeyError:
                raise _Mismatch from None
        return build
    if origin is tuple:
        item = args[0]
        if item is str:
            def strs(d: Any) -> tuple[str, ...]:
                if type(d) is not list or not all(isinstance(x, str) for x in d):
                    raise _Mismatch
                return tuple(d)
            return strs
        conv = _fast(item)

        def seq(d: Any) -> tuple[Any, ...]:
            if type(d) is not list:
                raise _Mismatch
            return tuple(conv(x) for x in d)
        return seq
    if origin is dict:
        conv = _fast(args[1])

        def mapping(d: Any) -> dict[Any, Any]:
            if not isinstance(d, dict):
                raise _Mismatch
            return {k: conv(v) for k, v in d.items()}
        return mapping
    if cls is bool:
        return lambda d: d if isinstance(d, bool) else _fail()
    if cls is int:
        return lambda d: d if isinstance(d, int) and not isinstance(d, bool) else _fail()
    if cls is str:
        return lambda d: d if isinstance(d, str) else _fail()
    return lambda d: d


def dumps(inventories: list[Inventory]) -> str:
    return json.dumps(
        {"schema": SCHEMA, "inventories": [to_dict(inv) for inv in inventories]}, indent=1, sort_keys=True
    )


def loads(text: str | bytes, name: str = "snapshot") -> list[Inventory]:
    try:
        with paused_gc():
            loaded = _decode_fast(text)
    except (msgspec.DecodeError, _Mismatch):
        return _loads_reference(text, name)  # it names the JSON path of the first problem
    if not loaded:
        return _loads_reference(text, name)  # refuses an empty snapshot with its message
    _require_ids(loaded, name)  # the fast path checks types; ids and VPCs are required too
    return loaded


@functools.cache
def _decoders() -> tuple[msgspec.json.Decoder[Any], msgspec.json.Decoder[Any]]:
    return msgspec.json.Decoder(_shape(_SnapshotData)), msgspec.json.Decoder(_SnapshotData)


def _decode_fast(text: str | bytes) -> list[Inventory]:
    """msgspec decodes the JSON straight into the frozen dataclasses, checking every type on the
    way (no intermediate dicts: about the time of a plain `json.load`, less memory). msgspec
    ignores unknown keys in dataclasses, so a first pass over a key-only mirror (no values built)
    refuses them; any problem raises and `loads` falls back to the reference path for the message."""
    shape, data = _decoders()
    head = shape.decode(text)
    if head.schema is None or msgspec.json.decode(head.schema) != SCHEMA:
        raise _Mismatch
    return list(data.decode(text).inventories)


@dataclasses.dataclass(frozen=True, slots=True)
class _SnapshotData:
    schema: str = ""
    inventories: tuple[Inventory, ...] = ()


@functools.cache
def _shape(cls: Any) -> Any:
    """A msgspec Struct with `cls`'s field names that forbids unknown keys and keeps leaf values as
    undecoded `Raw` (cheap): only nested dataclasses get a mirror of their own."""
    hints = _hints(cls)
    fields = [(f.name, _shape_of(hints[f.name]), msgspec.field(default=None)) for f in dataclasses.fields(cls)]
    return msgspec.defstruct(f"_Shape{cls.__name__}", fields, forbid_unknown_fields=True, gc=False)


def _shape_of(hint: Any) -> Any:
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _shape(hint)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    inner = [a for a in args if a is not type(None)]
    if origin is tuple and inner and isinstance(inner[0], type) and dataclasses.is_dataclass(inner[0]):
        return tuple[_shape(inner[0]), ...]  # type: ignore[misc]
    if (origin in (typing.Union, types.UnionType) and len(inner) == 1 and isinstance(inner[0], type)
            and dataclasses.is_dataclass(inner[0])):
        return typing.Optional[_shape(inner[0])]  # noqa: UP045 - a runtime type for msgspec
    return msgspec.Raw


def _loads_reference(text: str | bytes, name: str) -> list[Inventory]:
    try:
        with paused_gc():
            data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SnapshotError(f"{name}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    except UnicodeDecodeError as exc:
        raise SnapshotError(f"{name}: not valid UTF-8 ({exc.reason})") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        found = data.get("schema") if isinstance(data, dict) else type(data).__name__
        raise SnapshotError(f"{name}: not a preflight snapshot (schema {found!r}, expected {SCHEMA!r})")
    invs = data.get("inventories")
    if not isinstance(invs, list):
        raise SnapshotError(f"{name}: $.inventories: expected a list")
    if not invs:
        # nothing to check is not a pass: an empty list would report "No problems found"
        raise SnapshotError(f"{name}: $.inventories: empty (the snapshot holds no region)")
    try:
        try:
            with paused_gc():
                loaded = [_fast(Inventory)(inv) for inv in invs]
        except (_Mismatch, TypeError):
            # the slow path names the JSON path of the first problem
            loaded = [from_dict(Inventory, inv, f"$.inventories[{i}]") for i, inv in enumerate(invs)]
    except SnapshotError as exc:
        raise SnapshotError(f"{name}: {exc}") from None
    except TypeError as exc:  # pragma: no cover - defensive
        raise SnapshotError(f"{name}: {exc}") from None
    _require_ids(loaded, name)
    return loaded


# Fields without which a resource cannot be named in a finding or a command (`--vpc-id ` with
# nothing after it): every resource needs its id, and these kinds the VPC they live in.
_NEEDS_VPC = ("subnets", "route_tables", "network_acls", "security_groups")


def _require_ids(invs: list[Inventory], name: str) -> None:
    for i, inv in enumerate(invs):
        if not inv.region:
            raise SnapshotError(f"{name}: $.inventories[{i}].region: required")
        for f in dataclasses.fields(inv):
            items = getattr(inv, f.name)
            if not isinstance(items, tuple):
                continue
            for j, obj in enumerate(items):
                for key in ("id", *(("vpc_id",) if f.name in _NEEDS_VPC else ())):
                    if hasattr(obj, key) and not getattr(obj, key):
                        raise SnapshotError(f"{name}: $.inventories[{i}].{f.name}[{j}].{key}: required")


def save(path: str | Path, inventories: list[Inventory]) -> None:
    try:
        Path(path).write_text(dumps(inventories) + "\n")
    except OSError as exc:
        raise SnapshotError(f"cannot write snapshot {path}: {exc.strerror or exc}") from None


def load(path: str | Path) -> list[Inventory]:
    p = Path(path)
    return loads(read_input(p, "snapshot", SnapshotError), str(p))
