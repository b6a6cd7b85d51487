"""Typed payloads of the extra collectors (issue 13 item 6): every extra data name has a TypedDict in
preflight.inventory.extras, its collector declares it as its return type, and what the collectors
really return on a sandbox account has only the keys (and value kinds) that type declares."""

from __future__ import annotations

import typing
from typing import Any

import pytest

from preflight.collect import aws
from preflight.collect.registry import EXTRA_PROVIDERS, load_extra_collectors
from preflight.inventory.extras import EXTRA_PAYLOADS

REGION = "eu-south-1"


def _keys(payload_type: Any) -> dict[str, Any]:
    return typing.get_type_hints(payload_type)


def test_every_extra_has_a_payload_type_and_its_collector_returns_it() -> None:
    assert set(EXTRA_PAYLOADS) == set(EXTRA_PROVIDERS)
    load_extra_collectors()
    for name, fn in aws.EXTRA_COLLECTORS.items():
        if name not in EXTRA_PROVIDERS:
            continue  # a plugin's collector
        assert typing.get_type_hints(fn)["return"] == EXTRA_PAYLOADS[name], name


def _conforms(value: Any, hint: Any, where: str) -> None:
    """`value` fits `hint` as far as JSON shapes go (TypedDict keys, lists, dicts, scalars)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return
    if typing.is_typeddict(hint):
        assert isinstance(value, dict), where
        hints = _keys(hint)
        assert set(value) <= set(hints), f"{where}: keys {sorted(set(value) - set(hints))} not in {hint.__name__}"
        for k, v in value.items():
            _conforms(v, hints[k], f"{where}.{k}")
    elif origin is list:
        assert isinstance(value, list), where
        for i, v in enumerate(value):
            _conforms(v, args[0], f"{where}[{i}]")
    elif origin is dict:
        assert isinstance(value, dict), where
        for k, v in value.items():
            _conforms(v, args[1], f"{where}[{k}]")
    elif origin in (typing.Union, __import__("types").UnionType):
        errors = []
        for a in args:
            try:
                _conforms(value, a, where)
                return
            except AssertionError as exc:
                errors.append(str(exc))
        raise AssertionError(f"{where}: {value!r} fits none of {args}: {errors}")
    elif hint is type(None):
        assert value is None, where
    elif hint is float:
        assert isinstance(value, (int, float)) and not isinstance(value, bool), where
    else:
        assert isinstance(value, hint), f"{where}: {value!r} is not {hint}"


def test_what_the_collectors_return_on_a_sandbox_account_fits_the_types() -> None:
    from preflight.collect.sandbox import get_scenario, sandbox
    from preflight.plan import plan_from_dict

    plan = plan_from_dict(get_scenario("compute-blockers").plan, "compute-blockers")
    load_extra_collectors()
    with sandbox("compute-blockers", REGION, amis=True) as (session, _):
        inv = aws.collect(session, REGION, set(EXTRA_PROVIDERS) - {"dry_run"}, plan)
    unreadable = {u.resource_type for u in inv.unreadable}
    seen = {name for name in EXTRA_PAYLOADS if name in inv.extra}
    # The plan names a type, an image, a key pair and a profile: the compute extras all answered.
    assert {"instance_types", "offerings", "images", "key_pairs", "instance_profiles", "quotas", "iam"} <= seen, (
        seen, unreadable)
    for name in seen:
        _conforms(inv.extra[name], EXTRA_PAYLOADS[name], name)


def test_the_conformance_check_can_fail() -> None:
    from preflight.inventory.extras import Offerings

    with pytest.raises(AssertionError, match="not in Offerings"):
        _conforms({"instance_type": "t3.micro", "zone": "eu-south-1a"}, Offerings, "offerings")
    with pytest.raises(AssertionError):
        _conforms({"zones": "eu-south-1a"}, Offerings, "offerings")
