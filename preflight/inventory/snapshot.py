"""Versioned JSON snapshots of inventories: `preflight snapshot` writes them, `--snapshot` reads them.

The (de)serialiser is driven by the model's type hints, so a new field needs no code here.
A snapshot that does not match the schema is refused with the JSON path of the first problem.
"""

from __future__ import annotations

import functools
import json
import types
import typing
from pathlib import Path
from typing import Any

import msgspec

from preflight.errors import PreflightError, read_input
from preflight.gcpause import paused_gc
from preflight.inventory.model import Inventory, Model

SCHEMA = "preflight-snapshot/v1"


class SnapshotError(PreflightError):
    pass


def _is_model(cls: Any) -> bool:
    return isinstance(cls, type) and issubclass(cls, Model)


def to_dict(obj: Any) -> Any:
    if isinstance(obj, Model):
        return {name: to_dict(getattr(obj, name)) for name in obj.__struct_fields__}
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
    if _is_model(cls):
        if not isinstance(data, dict):
            raise SnapshotError(f"{where}: expected an object, got {type(data).__name__}")
        hints = _hints(cls)
        kwargs = {}
        names = set(cls.__struct_fields__)
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


def dumps(inventories: list[Inventory]) -> str:
    return json.dumps(
        {"schema": SCHEMA, "inventories": [to_dict(inv) for inv in inventories]}, indent=1, sort_keys=True
    )


def loads(text: str | bytes, name: str = "snapshot") -> list[Inventory]:
    try:
        with paused_gc():
            head = _decoder().decode(text)
    except msgspec.MsgspecError:
        return _loads_reference(text, name)  # it names the JSON path of the first problem
    except RecursionError:  # arrays in arrays, thousands deep: no snapshot looks like that
        raise SnapshotError(f"{name}: nested too deeply to be a preflight snapshot") from None
    if head.schema != SCHEMA or not head.inventories:
        return _loads_reference(text, name)  # it says what is wrong with the schema or the list
    loaded = list(head.inventories)
    _require_ids(loaded, name)  # msgspec checked the types; ids and VPCs are required too
    return loaded


class _SnapshotData(Model, frozen=True):
    schema: str = ""
    inventories: tuple[Inventory, ...] = ()


@functools.cache
def _decoder() -> msgspec.json.Decoder[_SnapshotData]:
    """msgspec decodes the JSON straight into the frozen model, checking every type and refusing
    unknown keys on the way (no intermediate dicts: about the time of a plain `json.load`). Any
    problem raises, and `loads` re-reads the text on the reference path for the message."""
    return msgspec.json.Decoder(_SnapshotData)


def _loads_reference(text: str | bytes, name: str) -> list[Inventory]:
    try:
        with paused_gc():
            data = json.loads(text)
    except RecursionError:
        raise SnapshotError(f"{name}: nested too deeply to be a preflight snapshot") from None
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
        with paused_gc():
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
        for field_name in inv.__struct_fields__:
            items = getattr(inv, field_name)
            if not isinstance(items, tuple):
                continue
            for j, obj in enumerate(items):
                for key in ("id", *(("vpc_id",) if field_name in _NEEDS_VPC else ())):
                    if hasattr(obj, key) and not getattr(obj, key):
                        raise SnapshotError(f"{name}: $.inventories[{i}].{field_name}[{j}].{key}: required")


def save(path: str | Path, inventories: list[Inventory]) -> None:
    try:
        Path(path).write_text(dumps(inventories) + "\n")
    except OSError as exc:
        raise SnapshotError(f"cannot write snapshot {path}: {exc.strerror or exc}") from None


def load(path: str | Path) -> list[Inventory]:
    p = Path(path)
    return loads(read_input(p, "snapshot", SnapshotError), str(p))
