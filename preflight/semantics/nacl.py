"""Network ACL semantics: ordered, first match wins, stateless, implicit deny at the end.

Pure code over `NaclEntry` tuples; shared by NET007, `path` and `launch`.
"""

from __future__ import annotations

import functools
import ipaddress
import itertools
from collections.abc import Iterable

from preflight.inventory.model import Inventory, NaclEntry, NetworkAcl

PROTOCOL_NUMBERS = {"-1": "-1", "all": "-1", "tcp": "6", "udp": "17", "icmp": "1", "icmpv6": "58"}
EPHEMERAL = (1024, 65535)


def protocol_number(protocol: str) -> str:
    return PROTOCOL_NUMBERS.get(str(protocol).lower(), str(protocol))


def entry_matches(entry: NaclEntry, protocol: str, port: int | None, peer: str) -> bool:
    """Does `entry` match a packet of `protocol` to/from `peer` (an address or CIDR) on `port`?

    A CIDR peer matches only when wholly inside the entry's CIDR (so "all of 0.0.0.0/0 on 8000"
    is matched only by an entry covering 0.0.0.0/0).
    """
    proto = protocol_number(protocol)
    entry_proto = protocol_number(entry.protocol)  # snapshots may say "tcp" where AWS says "6"
    if entry_proto != "-1" and entry_proto != proto:
        return False
    net = _network(peer)
    cidr = entry.cidr_block if net.version == 4 else entry.ipv6_cidr_block
    if not cidr or not _inside(peer, cidr):
        return False
    if entry_proto in ("6", "17") and port is not None:
        lo = entry.port_from if entry.port_from is not None else 0
        hi = entry.port_to if entry.port_to is not None else 65535
        return lo <= port <= hi
    return True


@functools.lru_cache(maxsize=4096)  # ACLs repeat the same few peers and CIDRs
def _network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_network(text, strict=False)


@functools.lru_cache(maxsize=65536)
def _inside(peer: str, cidr: str) -> bool:
    try:
        return _network(peer).subnet_of(_network(cidr))  # type: ignore[arg-type]
    except (ValueError, TypeError):
        return False


def ordered(entries: Iterable[NaclEntry], egress: bool) -> list[NaclEntry]:
    return sorted((e for e in entries if e.egress == egress), key=lambda e: e.rule_number)


def first_match(
    acl: NetworkAcl, egress: bool, protocol: str, port: int | None, peer: str
) -> NaclEntry | None:
    """The entry that decides the packet, or None when only the implicit `*` deny matches."""
    for entry in ordered(acl.entries, egress):
        if entry_matches(entry, protocol, port, peer):
            return entry
    return None


def allows(acl: NetworkAcl, egress: bool, protocol: str, port: int | None, peer: str) -> bool:
    entry = first_match(acl, egress, protocol, port, peer)
    return entry is not None and entry.action == "allow"


def blocked_ephemeral(acl: NetworkAcl, egress: bool, protocol: str, peer: str) -> list[int]:
    """Boundary ports of the ephemeral range (1024-65535) that the ACL denies for return traffic.

    Checks each distinct interval edge defined by the entries instead of all 64k ports.
    """
    points = {EPHEMERAL[0], EPHEMERAL[1]}
    for e in acl.entries:
        if e.egress == egress and e.port_from is not None and e.port_to is not None:
            for p in (e.port_from - 1, e.port_from, e.port_to, e.port_to + 1):
                if EPHEMERAL[0] <= p <= EPHEMERAL[1]:
                    points.add(p)
    return [p for p in sorted(points) if not allows(acl, egress, protocol, p, peer)]


def subnet_acls(inventory: Inventory) -> dict[str, NetworkAcl]:
    """The network ACL of each subnet of the inventory: its associated ACL, else its VPC's default.

    Associations that name subnets not in the inventory (moto leaves the deleted default VPC's
    ACL behind with such associations) are ignored.
    """
    subnet_ids = {s.id for s in inventory.subnets}
    default_by_vpc: dict[str, NetworkAcl] = {}
    out: dict[str, NetworkAcl] = {}
    for acl in inventory.network_acls:
        if acl.is_default:
            default_by_vpc.setdefault(acl.vpc_id, acl)
        for assoc in acl.associations:
            if assoc.subnet_id in subnet_ids:
                out[assoc.subnet_id] = acl
    for subnet in inventory.subnets:
        if subnet.id not in out and subnet.vpc_id in default_by_vpc:
            out[subnet.id] = default_by_vpc[subnet.vpc_id]
    return out


def port_decisions(acl: NetworkAcl, egress: bool, protocol: str, peer: str,
                   lo: int = EPHEMERAL[0], hi: int = EPHEMERAL[1]) -> list[tuple[int, int, NaclEntry | None]]:
    """Split ports lo..hi into maximal ranges decided by one entry (None: the implicit deny).

    Linear in the number of entries times the number of range edges, never in 64k ports.
    """
    edges = {lo, hi + 1}
    for e in acl.entries:
        if e.egress == egress and e.port_from is not None and e.port_to is not None:
            for p in (e.port_from, e.port_to + 1):
                if lo < p <= hi:
                    edges.add(p)
    points = sorted(edges)
    out: list[tuple[int, int, NaclEntry | None]] = []
    for start, stop in itertools.pairwise(points):
        entry = first_match(acl, egress, protocol, start, peer)
        if out and out[-1][2] == entry and out[-1][1] == start - 1:
            out[-1] = (out[-1][0], stop - 1, entry)
        else:
            out.append((start, stop - 1, entry))
    return out


def denied_ranges(acl: NetworkAcl, egress: bool, protocol: str, peer: str,
                  lo: int = EPHEMERAL[0], hi: int = EPHEMERAL[1]) -> list[tuple[int, int, NaclEntry | None]]:
    """The ranges of `port_decisions` that are denied (by a deny entry or the implicit deny)."""
    return [d for d in port_decisions(acl, egress, protocol, peer, lo, hi) if d[2] is None or d[2].action != "allow"]
