"""The fast path of `secgroups.canonical_cidr` (plain IPv4) is ipaddress's answer, and everything
else still goes to ipaddress: same canonical network, same refusals."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from preflight.semantics import secgroups
from preflight.semantics.secgroups import SecGroupError, _plain_v4_network, canonical_cidr

OCTET = st.one_of(st.integers(0, 300).map(str), st.sampled_from(["00", "01", "007", "255", "256", "1000", "", "٣"]))
PREFIX = st.one_of(st.none(), st.integers(0, 40).map(str), st.sampled_from(["08", "", "255.255.0.0", "0.0.0.255",
                                                                            "x", "032"]))


def ipaddress_answer(value: str) -> str | None:
    try:
        return str(ipaddress.ip_network(value.strip(), strict=False))
    except ValueError:
        return None


@settings(max_examples=1000, deadline=None)
@given(st.lists(OCTET, min_size=3, max_size=5), PREFIX, st.sampled_from(["", " ", "\t"]))
def test_plain_ipv4_agrees_with_ipaddress(octets, prefix, pad):
    value = pad + ".".join(octets) + ("" if prefix is None else "/" + prefix) + pad
    fast = _plain_v4_network(value.strip())
    if fast is not None:
        assert fast == ipaddress_answer(value)
    secgroups.canonical_cidr.cache_clear()
    expected = ipaddress_answer(value)
    if expected is None:
        with pytest.raises(SecGroupError):
            canonical_cidr(value)
    else:
        assert canonical_cidr(value).value == expected


@pytest.mark.parametrize(("value", "canonical"), [
    ("10.1.2.3/8", "10.0.0.0/8"), ("0.0.0.0/0", "0.0.0.0/0"), ("203.0.113.7", "203.0.113.7/32"),
    ("192.168.1.255/31", "192.168.1.254/31"), ("1.2.3.4/08", "1.0.0.0/8"),
])
def test_plain_ipv4_forms_take_the_fast_path(value, canonical):
    assert _plain_v4_network(value) == canonical == ipaddress_answer(value)


@pytest.mark.parametrize("value", ["::/0", "10.0.0.0/255.0.0.0", "01.2.3.4/8", "1.2.3.4/33", "256.0.0.0/8", "1.2.3/8"])
def test_other_forms_are_left_to_ipaddress(value):
    """The near miss: forms the fast path must not guess at (IPv6, netmasks, leading zeros, errors)."""
    assert _plain_v4_network(value) is None
