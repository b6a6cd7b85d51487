"""CIDR algebra shared by the route and security-group semantics (pure)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import TypeVar

Net = ipaddress.IPv4Network | ipaddress.IPv6Network
T = TypeVar("T")

WHOLE = {4: ipaddress.ip_network("0.0.0.0/0"), 6: ipaddress.ip_network("::/0")}


def outermost(pairs: Iterable[tuple[Net, T]]) -> list[tuple[Net, T]]:
    """The pairs whose network lies inside no other pair's network, sorted by address.

    CIDRs either nest or are disjoint, so after sorting by (start, widest first) a network is
    nested exactly when it is inside the last one kept.
    """
    out: list[tuple[Net, T]] = []
    for net, item in sorted(pairs, key=lambda p: (p[0].network_address, p[0].prefixlen)):
        if not out or not net.subnet_of(out[-1][0]):  # type: ignore[arg-type]
            out.append((net, item))
    return out


def whole_space_cover(pairs: Iterable[tuple[Net, T]], version: int) -> list[T]:
    """The items of the outermost networks (by address) when together they are the whole IPv4 or
    IPv6 space (a /0 split such as 0.0.0.0/1 + 128.0.0.0/1), else []."""
    outer = [(n, i) for n, i in outermost(p for p in pairs if p[0].version == version)]
    if not outer or list(ipaddress.collapse_addresses(n for n, _ in outer)) != [WHOLE[version]]:  # type: ignore[type-var]
        return []
    return [i for _, i in outer]
