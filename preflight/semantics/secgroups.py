"""Security-group semantics: canonical rule atoms, exact open-port sets, redundancy analysis.

Pure code over `SecurityGroup` / `SecurityGroupRule` (no AWS calls); shared by the SG rules, the SG
fixers, `preflight path` and `launch`. One truth per question:

- `atoms(rule)` turns one AWS rule into canonical atoms: direction, protocol (`-1` = every protocol
  and every port; `tcp`/`udp` with a port interval; `icmp`/`icmpv6` with type/code; other protocol
  numbers without ports), peer in canonical form (`10.0.0.1/16` and `10.0.0.0/16` are the same
  peer) and the AWS rule id.
- `open_ports(groups, protocol, source)` looks at EVERY rule of every group, whatever the order
  AWS returned them in, and returns the merged port intervals open to `source`. This is the
  computation whose absence caused the `InvalidPermission.Duplicate` launch failures: never stop
  at the first `-1` rule.
- `rules_admitting(groups, protocol, port, peer)` says which rules let a given packet in.

Peer semantics (security groups are allow-only, so the union of matching rules decides):
- A CIDR (or single address) source S is admitted by a rule with CIDR C only when S lies wholly
  inside C (a rule for 10.0.0.0/8 does not open a port to 0.0.0.0/0). IPv4 and IPv6 are separate:
  an IPv4 source never matches an IPv6 rule.
- Security-group-reference and prefix-list peers never match a CIDR source: their members are not
  known from the inventory. To ask about them pass the peer itself (`sg-…` or `pl-…`): a rule
  matches when it references exactly that group / prefix list.

The value classes are frozen msgspec Structs: an account has thousands of rules, and a Struct is
built several times faster than a frozen dataclass (and defined in microseconds, at start-up).

Redundancy (SG001/SG002/SG003) is judged per group and direction between rules with the same
canonical peer: a rule under a *broader* peer (an office /24 on port 22 beside a world rule on 22)
is left alone on purpose, since it usually survives the broader rule's removal.
"""

from __future__ import annotations

import bisect
import functools
import ipaddress
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from msgspec import Struct

from preflight.errors import PreflightError
from preflight.inventory.model import SecurityGroup, SecurityGroupRule
from preflight.protocols import CachingContext
from preflight.semantics.cidrs import whole_space_cover

ALL = "-1"
PORT_MIN, PORT_MAX = 0, 65535
FULL = (PORT_MIN, PORT_MAX)

_PROTOCOL_NAMES = {"-1": ALL, "all": ALL, "tcp": "tcp", "6": "tcp", "udp": "udp", "17": "udp",
                   "icmp": "icmp", "1": "icmp", "icmpv6": "icmpv6", "58": "icmpv6"}
PORTED = ("tcp", "udp")

# Ports an attacker scans first: remote administration and databases. Data, not code: the
# `admin_ports` config key replaces it.
ADMIN_PORTS: dict[int, str] = {
    22: "SSH", 23: "Telnet", 3389: "RDP", 5900: "VNC", 2375: "Docker API", 2376: "Docker API (TLS)",
    2379: "etcd", 1433: "SQL Server", 1521: "Oracle", 3306: "MySQL", 5432: "PostgreSQL",
    6379: "Redis", 9200: "Elasticsearch", 9300: "Elasticsearch transport", 11211: "Memcached",
    27017: "MongoDB", 5984: "CouchDB", 9042: "Cassandra",
}


class SecGroupError(PreflightError, ValueError):
    """Bad input to the security-group semantics (a source that is not an address or CIDR...)."""


def canonical_protocol(protocol: str | int) -> str:
    text = str(protocol).strip().lower()
    return _PROTOCOL_NAMES.get(text, text)


class Peer(Struct, frozen=True, order=True, gc=False):
    """`kind` is cidr4, cidr6, prefix_list or group; `value` its canonical form."""

    kind: str
    value: str
    owner: str = ""  # account of a referenced group, when AWS reports it

    @property
    def network(self) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
        return _network(self.value) if self.kind in ("cidr4", "cidr6") else None

    def __str__(self) -> str:
        return self.value


class Atom(Struct, frozen=True, gc=False):
    """One canonical permission: what a single AWS rule allows.

    `ports` is the port interval for tcp/udp ((0, 65535) for `-1`), (type, code) for icmp with -1
    meaning any, and None for protocols without ports.
    """

    direction: str  # "ingress" | "egress"
    protocol: str
    ports: tuple[int, int] | None
    peer: Peer
    rule_id: str
    group_id: str = ""

    @property
    def egress(self) -> bool:
        return self.direction == "egress"

    def key(self) -> tuple[str, str, tuple[int, int] | None, str, str]:
        """Identity after canonicalisation: equal keys in one group are duplicate rules."""
        return (self.direction, self.protocol, self.ports, self.peer.kind, self.peer.value)

    def describe(self) -> str:
        return f"{describe_protocol_ports(self.protocol, self.ports)} from {self.peer.value}" if not self.egress \
            else f"{describe_protocol_ports(self.protocol, self.ports)} to {self.peer.value}"


def describe_protocol_ports(protocol: str, ports: tuple[int, int] | None) -> str:
    if protocol == ALL:
        return "all traffic"
    if protocol in PORTED and ports is not None:
        if ports == FULL:
            return f"{protocol} all ports"
        return f"{protocol} {ports[0]}" if ports[0] == ports[1] else f"{protocol} {ports[0]}-{ports[1]}"
    if protocol in ("icmp", "icmpv6") and ports is not None:
        return f"{protocol} type {ports[0]} code {ports[1]}".replace("-1", "any")
    return f"protocol {protocol}"


@functools.lru_cache(maxsize=65536)
def _network(value: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_network(value, strict=False)


# A plain IPv4 address, the form almost every rule has: four ASCII decimal octets of 0-255, no
# leading zeros. Anything else (netmasks, IPv6, octal-looking or short forms) goes to ipaddress.
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_PLAIN_V4 = re.compile(rf"({_OCTET})\.({_OCTET})\.({_OCTET})\.({_OCTET})")
_PREFIX_TEXT = tuple(str(n) for n in range(33))


@functools.lru_cache(maxsize=65536)  # accounts reuse a few CIDRs in thousands of rules
def canonical_cidr(value: str) -> Peer:
    stripped = value.strip()
    plain = _plain_v4_network(stripped)
    if plain is not None:
        return Peer("cidr4", plain)
    try:
        net = ipaddress.ip_network(stripped, strict=False)
    except ValueError:
        raise SecGroupError(f"{value!r} is not an IP address or CIDR (like 203.0.113.0/24 or 0.0.0.0/0)") from None
    return Peer("cidr4" if net.version == 4 else "cidr6", str(net))


def _plain_v4_network(value: str) -> str | None:
    """`str(ipaddress.ip_network(value, strict=False))` for a plain IPv4 address or CIDR, without
    ipaddress's per-character parsing (thousands of distinct CIDRs cost more than the rules that
    read them); None for any other form (netmasks, IPv6, errors), which ipaddress then decides.
    Most CIDRs are already canonical and are returned as they are written."""
    addr, slash, plen = value.partition("/")
    if not slash:
        prefix = 32
    elif plen.isascii() and plen.isdigit() and len(plen) <= 2 and int(plen) <= 32:
        prefix = int(plen)
    else:
        return None
    m = _PLAIN_V4.fullmatch(addr)
    if m is None:
        return None
    a, b, c, d = m.groups()
    n = (int(a) << 24) | (int(b) << 16) | (int(c) << 8) | int(d)
    host = (1 << (32 - prefix)) - 1
    if not n & host and slash and plen == _PREFIX_TEXT[prefix]:
        return value
    n &= ~host
    return f"{n >> 24}.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}/{prefix}"


def rule_peer(rule: SecurityGroupRule) -> Peer:
    if rule.cidr_ipv4:
        return canonical_cidr(rule.cidr_ipv4)
    if rule.cidr_ipv6:
        return canonical_cidr(rule.cidr_ipv6)
    if rule.prefix_list_id:
        return Peer("prefix_list", rule.prefix_list_id)
    if rule.referenced_group is not None:
        return Peer("group", rule.referenced_group.group_id, rule.referenced_group.user_id)
    return Peer("unknown", "")


def rule_ports(protocol: str, from_port: int | None, to_port: int | None) -> tuple[int, int] | None:
    if protocol == ALL:
        return FULL
    if protocol in PORTED:
        if from_port is None or from_port < 0:
            return FULL
        return (from_port, to_port if to_port is not None and to_port >= 0 else from_port)
    if protocol in ("icmp", "icmpv6"):
        return (-1 if from_port is None else from_port, -1 if to_port is None else to_port)
    return None


def atoms(rule: SecurityGroupRule) -> list[Atom]:
    """The canonical atoms of one rule (one per peer; DescribeSecurityGroupRules has one peer)."""
    return list(_atoms(rule))


@functools.lru_cache(maxsize=262144)  # rules are frozen, and several rules ask about the same ones
def _atoms(rule: SecurityGroupRule) -> tuple[Atom, ...]:
    proto = canonical_protocol(rule.ip_protocol)
    return (Atom(
        direction="egress" if rule.egress else "ingress",
        protocol=proto,
        ports=rule_ports(proto, rule.from_port, rule.to_port),
        peer=rule_peer(rule),
        rule_id=rule.id,
        group_id=rule.group_id,
    ),)


def atoms_from_permission(permission: dict[str, Any], group_id: str = "", egress: bool = False) -> list[Atom]:
    """Atoms of one `IpPermissions` entry of DescribeSecurityGroups (one per CIDR / peer).

    That shape carries no rule ids, so `rule_id` is empty; the collector reads the ids from
    DescribeSecurityGroupRules, which this function is only a cross-check for.
    """
    proto = canonical_protocol(permission.get("IpProtocol", ALL))
    ports = rule_ports(proto, permission.get("FromPort"), permission.get("ToPort"))
    direction = "egress" if egress else "ingress"
    peers: list[Peer] = [canonical_cidr(r["CidrIp"]) for r in permission.get("IpRanges") or []]
    peers += [canonical_cidr(r["CidrIpv6"]) for r in permission.get("Ipv6Ranges") or []]
    peers += [Peer("prefix_list", p["PrefixListId"]) for p in permission.get("PrefixListIds") or []]
    peers += [Peer("group", p.get("GroupId", ""), p.get("UserId", ""))
              for p in permission.get("UserIdGroupPairs") or []]
    return [Atom(direction, proto, ports, peer, "", group_id) for peer in peers]


# --- intervals ----------------------------------------------------------------------------------

def merge(intervals: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted union of closed intervals; adjacent intervals join ((1,2)+(3,4) -> (1,4))."""
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(intervals):
        if out and lo <= out[-1][1] + 1:
            if hi > out[-1][1]:
                out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return out


def covers(intervals: Sequence[tuple[int, int]], target: tuple[int, int]) -> bool:
    """Is `target` inside the union of `intervals`?"""
    lo, hi = target
    for a, b in merge(intervals):
        if a <= lo <= b:
            if hi <= b:
                return True
            lo = b + 1
        elif a > lo:
            return False
    return False


def contains(intervals: Sequence[tuple[int, int]], port: int) -> bool:
    return any(a <= port <= b for a, b in intervals)


def ranges(ports: Iterable[int]) -> list[tuple[int, int]]:
    """Contiguous runs of ports: {8000, 8001, 8004} -> [(8000, 8001), (8004, 8004)]."""
    return merge((p, p) for p in ports)


def format_ranges(intervals: Iterable[tuple[int, int]]) -> str:
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in intervals)


# --- evaluation -----------------------------------------------------------------------------------

def _query_peer(peer: str) -> Peer:
    text = peer.strip()
    if text.startswith("sg-"):
        return Peer("group", text)
    if text.startswith("pl-"):
        return Peer("prefix_list", text)
    return canonical_cidr(text)


def peer_admits(rule_peer_: Peer, source: Peer) -> bool:
    """Does a rule with peer `rule_peer_` admit all of `source`? (See the module docstring.)"""
    if source.kind in ("cidr4", "cidr6"):
        if rule_peer_.kind != source.kind:
            return False
        return source.network.subnet_of(rule_peer_.network)  # type: ignore[union-attr, arg-type]
    return rule_peer_.kind == source.kind and rule_peer_.value == source.value


def _protocol_matches(atom: Atom, protocol: str) -> bool:
    return atom.protocol == ALL or atom.protocol == protocol


def _all_atoms(groups: Iterable[SecurityGroup], egress: bool) -> Iterable[tuple[SecurityGroupRule, Atom]]:
    for group in groups:
        for rule in group.rules:
            if rule.egress != egress:
                continue
            for atom in atoms(rule):
                yield rule, atom


def open_ports(groups: Iterable[SecurityGroup], protocol: str, source: str,
               egress: bool = False) -> list[tuple[int, int]]:
    """Merged, sorted port intervals open for `protocol` from `source` (to it when `egress`).

    Every rule of every group counts (several groups on one interface = their union), in any
    order. A `-1` rule opens (0, 65535). For protocols without ports (icmp, gre...) the answer is
    [(0, 65535)] when any rule admits the protocol, else [].
    """
    proto = canonical_protocol(protocol)
    src = _query_peer(source)
    found: list[tuple[int, int]] = []
    for _, atom in _all_atoms(groups, egress):
        if not _protocol_matches(atom, proto) or not peer_admits(atom.peer, src):
            continue
        if proto == ALL and atom.protocol != ALL:
            continue  # "all protocols" is open only through a -1 rule
        found.append(atom.ports if proto in PORTED and atom.ports is not None else FULL)
    return merge(found)


def rules_admitting(groups: Iterable[SecurityGroup], protocol: str, port: int | None, peer: str,
                    egress: bool = False) -> list[SecurityGroupRule]:
    """Every rule that lets `protocol` traffic on `port` from `peer` in (to `peer` out when egress).

    `port=None` asks about the protocol on any port. For icmp, `port` is the icmp type.
    """
    proto = canonical_protocol(protocol)
    src = _query_peer(peer)
    out: list[SecurityGroupRule] = []
    for rule, atom in _all_atoms(groups, egress):
        if not _protocol_matches(atom, proto) or not peer_admits(atom.peer, src):
            continue
        if proto == ALL and atom.protocol != ALL:
            continue
        if port is not None and atom.protocol != ALL and atom.ports is not None:
            lo, hi = atom.ports
            if proto in PORTED and not lo <= port <= hi:
                continue
            if proto in ("icmp", "icmpv6") and lo not in (-1, port):
                continue
        out.append(rule)
    return out


def missing_ports(groups: Iterable[SecurityGroup], ports: Iterable[int], source: str,
                  protocol: str = "tcp") -> list[int]:
    opened = open_ports(list(groups), protocol, source)
    return [p for p in sorted(set(ports)) if not contains(opened, p)]


def is_world(cidr: str) -> bool:
    """Whether `cidr` is the whole IPv4 or IPv6 space, in any form the rules' peers are read in
    (`0.0.0.0/0`, `::/00`, `0.0.0.0/0.0.0.0`, padded): a suffix test would miss the others, and
    SG004 would stay silent on a rule `rules_admitting` says lets the whole internet in."""
    return bool(cidr) and _prefix_len(cidr, -1) == 0


# --- redundancy -----------------------------------------------------------------------------------

class Duplicate(Struct, frozen=True, gc=False):
    keep: Atom
    duplicates: tuple[Atom, ...]


class Redundant(Struct, frozen=True, gc=False):
    atom: Atom
    covered_by: tuple[Atom, ...]


class Overlap(Struct, frozen=True, gc=False):
    a: Atom
    b: Atom


class GroupAnalysis(Struct, frozen=True, gc=False):
    duplicates: tuple[Duplicate, ...]
    redundant: tuple[Redundant, ...]
    overlaps: tuple[Overlap, ...]

    def removable(self) -> list[Atom]:
        """Rules that can be revoked leaving exactly the same access (duplicates first)."""
        return [d for dup in self.duplicates for d in dup.duplicates] + [r.atom for r in self.redundant]


def _keep_order(atom: Atom, raw: dict[str, SecurityGroupRule]) -> tuple[int, int, str]:
    """Which duplicate to keep: the one written in canonical form, then one with a description."""
    rule = raw.get(atom.rule_id)
    written = (rule.cidr_ipv4 or rule.cidr_ipv6) if rule else ""
    canonical = 0 if not written or written == atom.peer.value else 1
    described = 0 if rule is not None and rule.description else 1
    return (canonical, described, atom.rule_id)


def _breadth(atom: Atom) -> tuple[int, str]:
    if atom.protocol == ALL:
        return (1 << 20, atom.rule_id)
    if atom.ports is None or atom.protocol not in PORTED:
        return (1 << 19, atom.rule_id)
    return (atom.ports[1] - atom.ports[0], atom.rule_id)


def _covered(atom: Atom, others: Iterable[Atom]) -> tuple[Atom, ...] | None:
    """The atoms (same peer and direction) that together cover `atom`, or None."""
    if atom.protocol == ALL:
        cover = tuple(o for o in others if o.protocol == ALL)
        return cover[:1] or None
    same = [o for o in others if o.protocol in (ALL, atom.protocol)]
    alls = [o for o in same if o.protocol == ALL]
    if alls:
        return (alls[0],)
    if atom.protocol in PORTED and atom.ports is not None:
        assert atom.ports is not None
        lo, hi = atom.ports
        useful = [o for o in same if o.ports is not None and o.ports[1] >= lo and o.ports[0] <= hi]
        if useful and covers([o.ports for o in useful if o.ports is not None], atom.ports):
            return tuple(sorted(useful, key=lambda o: (o.ports, o.rule_id)))
        return None
    if atom.protocol in ("icmp", "icmpv6") and atom.ports is not None:
        t, c = atom.ports
        for o in same:
            if o.ports is not None and o.ports[0] in (-1, t) and (o.ports[0] == -1 or o.ports[1] in (-1, c)):
                return (o,)
    return None


_NOTHING = GroupAnalysis((), (), ())


def analyse_group(group: SecurityGroup) -> GroupAnalysis:
    """Duplicates, redundant rules and partial overlaps in one group, per direction and peer.

    Redundant rules are chosen greedily from the narrowest up, each one checked against the rules
    still kept, so revoking every reported duplicate and redundant rule leaves exactly the same
    access (two rules never "cover each other" away).

    Same answer as `analyse_group_reference` (property-tested): a rule alone with its peer in its
    direction can be neither a duplicate, nor covered, nor overlapping (all three compare rules
    of one peer), so only peers with two or more rules are analysed. Most groups have none, and
    the peer of a rule is a string lookup (canonical CIDRs are cached), no atoms built.
    """
    by_peer: dict[tuple[bool, str, str], list[SecurityGroupRule]] = {}
    for rule in group.rules:
        cidr = rule.cidr_ipv4 or rule.cidr_ipv6
        if cidr:
            peer = canonical_cidr(cidr)
            key = (rule.egress, peer.kind, peer.value)
        elif rule.prefix_list_id:
            key = (rule.egress, "prefix_list", rule.prefix_list_id)
        elif rule.referenced_group is not None:
            key = (rule.egress, "group", rule.referenced_group.group_id)
        else:
            continue  # no peer: never analysed
        same = by_peer.get(key)
        if same is None:
            by_peer[key] = [rule]
        else:
            same.append(rule)
    shared = [r for rules in by_peer.values() if len(rules) > 1 for r in rules]
    if not shared:
        return _NOTHING
    return _analyse(shared, {r.id: r for r in group.rules})


def analyse_group_reference(group: SecurityGroup) -> GroupAnalysis:
    """The definition `analyse_group` is tested against: every rule of the group analysed."""
    return _analyse(group.rules, {r.id: r for r in group.rules})


def _analyse(rules: Iterable[SecurityGroupRule], raw: dict[str, SecurityGroupRule]) -> GroupAnalysis:
    buckets: dict[tuple[str, str, str], list[Atom]] = defaultdict(list)
    for rule in rules:
        for atom in atoms(rule):
            if atom.peer.kind != "unknown":
                buckets[(atom.direction, atom.peer.kind, atom.peer.value)].append(atom)

    dups: list[Duplicate] = []
    redundant: list[Redundant] = []
    overlaps: list[Overlap] = []
    for _, bucket in sorted(buckets.items()):
        by_key: dict[tuple[object, ...], list[Atom]] = defaultdict(list)
        for a in bucket:
            by_key[a.key()].append(a)
        uniques: list[Atom] = []
        for same in by_key.values():
            same.sort(key=lambda a: _keep_order(a, raw))
            uniques.append(same[0])
            if len(same) > 1:
                dups.append(Duplicate(same[0], tuple(same[1:])))
        kept = sorted(uniques, key=_breadth)
        removed: set[int] = set()  # by object identity: the analysis never trusts ids to be unique
        for atom in list(kept):
            others = [o for o in kept if o is not atom and id(o) not in removed]
            cover = _covered(atom, others)
            if cover:
                redundant.append(Redundant(atom, cover))
                removed.add(id(atom))
        survivors = [a for a in kept if id(a) not in removed and a.protocol in PORTED and a.ports]
        survivors.sort(key=lambda a: (a.protocol, a.ports, a.rule_id))
        for i, a in enumerate(survivors):
            for b in survivors[i + 1:]:
                if b.protocol != a.protocol:
                    continue
                assert a.ports is not None and b.ports is not None
                if b.ports[0] > a.ports[1]:
                    break
                inside = (a.ports[0] <= b.ports[0] and b.ports[1] <= a.ports[1]) or \
                         (b.ports[0] <= a.ports[0] and a.ports[1] <= b.ports[1])
                if not inside:
                    overlaps.append(Overlap(a, b))
    dups.sort(key=lambda d: d.keep.rule_id)
    redundant.sort(key=lambda r: r.atom.rule_id)
    return GroupAnalysis(tuple(dups), tuple(redundant), tuple(overlaps))


def admin_ports_open_to_world(group: SecurityGroup, admin_ports: Iterable[int]) -> dict[int, list[SecurityGroupRule]]:
    """Admin ports (tcp) reachable from 0.0.0.0/0 or ::/0, with the rules that open them."""
    found: dict[int, list[SecurityGroupRule]] = {}
    # Only a rule whose peer is a /0 admits all of 0.0.0.0/0 or ::/0: look at those alone, so a
    # large account costs one string test per rule instead of 2 x |admin ports| evaluations.
    # Same answer as rules_admitting(tcp, port, 0.0.0.0/0) + (..., ::/0) for each port, with the
    # rules' atoms computed once rather than once per port.
    # One pass over the rules: the world rules, and whether a /0 split is possible at all. The n
    # rules' blocks can only add up to the whole space if one of them is at least 1/n of it (a
    # prefix p with 2**p <= n); otherwise each is smaller and n of them fall short. Most groups have
    # no such rule, and `_split_world` (exact) is not even started.
    world: list[SecurityGroupRule] = []
    n = len(group.rules)
    wide = False
    for r in group.rules:
        if r.egress:
            continue
        c4, c6 = r.cidr_ipv4, r.cidr_ipv6
        if is_world(c4) or is_world(c6):
            world.append(r)
        elif not wide:
            wide = bool((c4 and _block_share(c4, 32, n)) or (c6 and _block_share(c6, 128, n)))
    split = _split_world(group, admin_ports) if wide else {}
    if not world:
        return split
    families: tuple[list[tuple[SecurityGroupRule, Atom]], ...] = ([], [])
    sources = (_query_peer("0.0.0.0/0"), _query_peer("::/0"))
    for rule in world:
        for atom in atoms(rule):
            if _protocol_matches(atom, "tcp"):
                for fam, src in zip(families, sources, strict=True):
                    if peer_admits(atom.peer, src):
                        fam.append((rule, atom))
    # Each world rule lands on the admin ports inside its interval (bisect in the sorted ports),
    # not each port scanning every rule; hits keep the rules' order (IPv4 family first).
    wanted = sorted(set(admin_ports))
    hits: dict[int, list[SecurityGroupRule]] = {}
    for fam in families:
        for rule, atom in fam:
            if atom.protocol == ALL or atom.ports is None:
                inside = wanted
            else:
                inside = wanted[bisect.bisect_left(wanted, atom.ports[0]):bisect.bisect_right(wanted, atom.ports[1])]
            for port in inside:
                hits.setdefault(port, []).append(rule)
    for port in wanted:
        if port in hits:
            found[port] = hits[port]
    for port, rules in split.items():
        found.setdefault(port, rules)
    return dict(sorted(found.items()))


def _block_share(cidr: str, bits: int, n: int) -> bool:
    """Whether a non-/0 CIDR is at least 1/n of its address space, as `_split_world` sizes it."""
    plen = _prefix_len(cidr, bits)
    return plen > 0 and 1 << min(plen, bits) <= n


def _prefix_len(cidr: str, bits: int) -> int:
    """The prefix length of `cidr` in canonical form (`/0.0.0.0` and `/00` are /0), or `bits` when
    it is not an address at all (such a peer admits nothing)."""
    try:
        value = canonical_cidr(cidr).value
    except SecGroupError:
        return bits
    return int(value.rsplit("/", 1)[1])


def _split_world(group: SecurityGroup, admin_ports: Iterable[int]) -> dict[int, list[SecurityGroupRule]]:
    """Admin ports that several narrower rules open to the whole internet together (a /0 split
    such as 0.0.0.0/1 + 128.0.0.0/1), with those rules. Security groups are a union of allows,
    so such a pair is as open as one 0.0.0.0/0 rule."""
    found: dict[int, list[SecurityGroupRule]] = {}
    for field_name, bits in (("cidr_ipv4", 32), ("cidr_ipv6", 128)):
        rules = [r for r in group.rules if not r.egress and getattr(r, field_name)
                 and _prefix_len(getattr(r, field_name), bits) > 0]
        # Cheap necessary condition first (string work only): the sizes must add up to the space.
        if sum(1 << (bits - min(_prefix_len(getattr(r, field_name), bits), bits)) for r in rules) < 1 << bits:
            continue
        pairs = [(rule, atom) for rule in rules for atom in atoms(rule) if _protocol_matches(atom, "tcp")]
        for port in sorted(set(admin_ports)):
            hits = [(rule, atom) for rule, atom in pairs
                    if atom.protocol == ALL or atom.ports is None or atom.ports[0] <= port <= atom.ports[1]]
            # Only the outermost rules are named (an office /24 inside a half stays out of it).
            cover = whole_space_cover(((atom.peer.network, rule) for rule, atom in hits
                                       if atom.peer.network is not None), 4 if bits == 32 else 6)
            if cover:
                found[port] = list(dict.fromkeys(cover))
    return found


def resolve_group(groups: Iterable[SecurityGroup], ref: str, vpc_id: str = "") -> list[SecurityGroup]:
    """Groups a plan's `security_group` (an sg- id, a group name or a Name tag) refers to.

    Names are looked up within `vpc_id` when given (names are unique per VPC, not per region).
    """
    ref = ref.strip()
    groups = list(groups)
    if ref.startswith("sg-"):
        return [g for g in groups if g.id == ref]
    by_name = [g for g in groups if g.group_name == ref and (not vpc_id or g.vpc_id == vpc_id)]
    if by_name:
        return by_name
    return [g for g in groups if g.name == ref and (not vpc_id or g.vpc_id == vpc_id)]


def ip_permissions(protocol: str, port_ranges: Iterable[tuple[int, int]], source: str,
                   description: str = "") -> list[dict[str, Any]]:
    """`IpPermissions` for authorize/revoke: one entry per port range, all for one CIDR source."""
    peer = canonical_cidr(source)
    key, cidr_key = ("IpRanges", "CidrIp") if peer.kind == "cidr4" else ("Ipv6Ranges", "CidrIpv6")
    entry: dict[str, str] = {cidr_key: peer.value}
    if description:
        entry["Description"] = description
    return [{"IpProtocol": canonical_protocol(protocol), "FromPort": lo, "ToPort": hi, key: [dict(entry)]}
            for lo, hi in port_ranges]


def rule_permission(rule: SecurityGroupRule) -> dict[str, Any]:
    """The `IpPermissions` entry that re-creates exactly one rule (the undo of revoking it)."""
    perm: dict[str, Any] = {"IpProtocol": rule.ip_protocol}
    if rule.ip_protocol != ALL:
        perm["FromPort"] = -1 if rule.from_port is None else rule.from_port
        perm["ToPort"] = -1 if rule.to_port is None else rule.to_port
        if canonical_protocol(rule.ip_protocol) in PORTED and rule.from_port is None:
            perm["FromPort"], perm["ToPort"] = PORT_MIN, PORT_MAX
    desc = {"Description": rule.description} if rule.description else {}
    if rule.cidr_ipv4:
        perm["IpRanges"] = [{"CidrIp": rule.cidr_ipv4, **desc}]
    elif rule.cidr_ipv6:
        perm["Ipv6Ranges"] = [{"CidrIpv6": rule.cidr_ipv6, **desc}]
    elif rule.prefix_list_id:
        perm["PrefixListIds"] = [{"PrefixListId": rule.prefix_list_id, **desc}]
    elif rule.referenced_group is not None:
        pair = {"GroupId": rule.referenced_group.group_id, **desc}
        if rule.referenced_group.user_id:
            pair["UserId"] = rule.referenced_group.user_id
        perm["UserIdGroupPairs"] = [pair]
    return perm


def label(group: SecurityGroup) -> str:
    return f"{group.id} ({group.group_name})" if group.group_name else group.id


def plan_admin_ports(config_value: object) -> dict[int, str]:
    """The admin-port list from config (`admin_ports`: a list of ports or a {port: name} map)."""
    if config_value is None:
        return dict(ADMIN_PORTS)
    if isinstance(config_value, dict):
        return {int(k): str(v) for k, v in config_value.items()}
    if isinstance(config_value, (list, tuple, set)):
        return {int(p): ADMIN_PORTS.get(int(p), "admin") for p in config_value}
    raise SecGroupError(f"admin_ports: expected a list of ports, got {config_value!r}")


def plan_group_ref(plan: object, region: str) -> str:
    """The plan's `security_group` when the plan applies to `region` and asks for ports."""
    if plan is None or not getattr(plan, "security_group", ""):
        return ""
    plan_region = getattr(plan, "region", "")
    if plan_region and region and plan_region != region:
        return ""
    return str(plan.security_group)  # type: ignore[attr-defined]


def analyses(ctx: CachingContext) -> dict[str, GroupAnalysis]:
    """analyse_group for every group of a rule context's inventory, computed once per run."""
    inventory = ctx.inventory
    return ctx.cached("secgroups.analyses", lambda: {g.id: analyse_group(g) for g in inventory.security_groups})
