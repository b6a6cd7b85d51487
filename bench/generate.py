"""Synthetic account snapshots for the benchmark, with a known set of planted faults.

    python bench/generate.py --size L --out bench/.data/L.json      # also writes L.expected.json

A healthy, realistically wired region (VPCs with an attached internet gateway, a public route
table to it, private route tables per zone to NAT gateways, public subnets mapping public IPs,
private subnets, default network ACLs allowing all, security groups whose rules have distinct
peers or disjoint ports, references to live groups, one all-traffic egress rule each, instances
with their network interfaces) plus `faults` planted problems per rule of the NET and SG
families. No default VPC, so NET006 fires once. The expected findings are (rule, resource) pairs;
`bench/run.py` compares them with what the rules report (precision and recall).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from preflight.inventory import model as m  # noqa: E402
from preflight.inventory import snapshot  # noqa: E402

REGION = "eu-south-1"
ACCOUNT = "123456789012"
ZONES = ("eu-south-1a", "eu-south-1b", "eu-south-1c")


@dataclass(frozen=True)
class Size:
    vpcs: int
    subnets: int
    route_tables: int
    groups: int
    rules: int
    instances: int
    faults: int  # planted faults per rule (NET006: always one)


SIZES = {
    "S": Size(vpcs=5, subnets=100, route_tables=20, groups=500, rules=5_000, instances=250, faults=3),
    # M: the collection benchmark's larger account (same size per VPC as S, four times the VPCs)
    "M": Size(vpcs=20, subnets=1_000, route_tables=200, groups=2_000, rules=20_000, instances=500, faults=5),
    "L": Size(vpcs=50, subnets=5_000, route_tables=1_000, groups=10_000, rules=100_000, instances=5_000, faults=25),
}
FAULT_RULES = ("NET002", "NET003", "NET004", "NET005", "NET006", "NET007",
               "SG001", "SG002", "SG003", "SG004", "SG005", "SG006")
WORLD_PORTS = (80, 443)  # the only ports healthy groups open to 0.0.0.0/0 (no admin port)
APP_PORTS = (8080, 8443, 9090, 6443, 4000, 5000, 7000, 8000, 8500, 9443, 10250, 3000)
TYPES = ("m7i.large", "c7g.xlarge", "t3.medium", "g5.xlarge", "r7i.2xlarge")


class Ids:
    """Deterministic, AWS-shaped ids: `subnet-` plus 17 hex digits."""

    def __init__(self) -> None:
        self.n = 0

    def __call__(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}-{self.n:017x}"


@dataclass
class Account:
    vpcs: list[m.Vpc] = field(default_factory=list)
    subnets: list[m.Subnet] = field(default_factory=list)
    route_tables: list[m.RouteTable] = field(default_factory=list)
    igws: list[m.InternetGateway] = field(default_factory=list)
    nats: list[m.NatGateway] = field(default_factory=list)
    acls: list[m.NetworkAcl] = field(default_factory=list)
    groups: list[m.SecurityGroup] = field(default_factory=list)
    instances: list[m.Instance] = field(default_factory=list)
    enis: list[m.NetworkInterface] = field(default_factory=list)
    expected: set[tuple[str, str]] = field(default_factory=set)


def _split(total: int, parts: int) -> list[int]:
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def allow_all_entries() -> tuple[m.NaclEntry, ...]:
    return (m.NaclEntry(100, False, "allow", "-1", "0.0.0.0/0"), m.NaclEntry(32767, False, "deny", "-1", "0.0.0.0/0"),
            m.NaclEntry(100, True, "allow", "-1", "0.0.0.0/0"), m.NaclEntry(32767, True, "deny", "-1", "0.0.0.0/0"))


def _rule(ids: Ids, gid: str, port: int | tuple[int, int], cidr: str = "", ref: str = "",
          egress: bool = False, proto: str = "tcp") -> m.SecurityGroupRule:
    lo, hi = (port, port) if isinstance(port, int) else port
    if proto == "-1":
        lo = hi = -1
    return m.SecurityGroupRule(
        id=ids("sgr"), group_id=gid, egress=egress, ip_protocol=proto, from_port=lo, to_port=hi, cidr_ipv4=cidr,
        referenced_group=m.UserIdGroupPair(group_id=ref, user_id=ACCOUNT) if ref else None)


def healthy_rules(ids: Ids, rng: random.Random, gid: str, n_ingress: int, peers: list[str],
                  k: int) -> list[m.SecurityGroupRule]:
    """`n_ingress` ingress rules with pairwise distinct peers (so none duplicates, covers or
    overlaps another), plus the usual all-traffic egress rule."""
    out = [_rule(ids, gid, 0, "0.0.0.0/0", egress=True, proto="-1")]
    used_refs: set[str] = set()
    for i in range(n_ingress):
        if i < len(WORLD_PORTS) and rng.random() < 0.3:
            # world-open web ports: same peer, disjoint single ports
            out.append(_rule(ids, gid, WORLD_PORTS[i], "0.0.0.0/0"))
            continue
        ref = rng.choice(peers) if peers and rng.random() < 0.2 else ""
        if ref and ref != gid and ref not in used_refs:
            used_refs.add(ref)
            out.append(_rule(ids, gid, rng.choice(APP_PORTS), ref=ref))
            continue
        # a distinct /24 per rule in 172.16.0.0/12, varying per group
        block = (k * 97 + i) % 4096
        cidr = f"172.{16 + block // 256}.{block % 256}.0/24"
        port = rng.choice(APP_PORTS)
        out.append(_rule(ids, gid, (port, port + rng.choice((0, 0, 0, 9))), cidr))
    return out


def build(size: Size, seed: int = 7) -> Account:
    rng = random.Random(seed)
    ids = Ids()
    acc = Account()
    f = size.faults
    subnets_per_vpc = _split(size.subnets - 4 * f, size.vpcs)  # 4 fault families add subnets
    tables_per_vpc = _split(size.route_tables - 2 * f, size.vpcs)  # NET002 and NET004 add tables
    groups_per_vpc = _split(size.groups - 6 * f, size.vpcs)  # six SG faults, one group each

    public_tables: list[m.RouteTable] = []
    vpc_groups: dict[str, list[str]] = {}
    for v in range(size.vpcs):
        vid = ids("vpc")
        cidr = f"10.{v}.0.0/16"
        acc.vpcs.append(m.Vpc(id=vid, cidr_blocks=(cidr,), owner_id=ACCOUNT, tags={"Name": f"vpc-{v}"}))
        igw = ids("igw")
        acc.igws.append(m.InternetGateway(id=igw, attachments=(m.Attachment(vid, "available"),), owner_id=ACCOUNT))
        n_sub = subnets_per_vpc[v]
        n_tables = max(tables_per_vpc[v], 3)
        n_private_tables = n_tables - 2  # minus main and public
        sub_ids = [ids("subnet") for _ in range(n_sub)]
        n_public = max(3, n_sub // 2)
        # NAT gateways: one per zone, in the first public subnets
        nats = []
        for z in range(3):
            nat = ids("nat")
            nats.append(nat)
            acc.nats.append(m.NatGateway(id=nat, vpc_id=vid, subnet_id=sub_ids[z], public_ips=(f"198.51.100.{z}",)))
        for i, sid in enumerate(sub_ids):
            public = i < n_public
            acc.subnets.append(m.Subnet(
                id=sid, vpc_id=vid, cidr_block=f"10.{v}.{i}.0/24", availability_zone=ZONES[i % 3],
                map_public_ip_on_launch=public, available_ip_address_count=251,
                tags={"Name": f"{'public' if public else 'private'}-{v}-{i}"}))
        main = m.RouteTable(id=ids("rtb"), vpc_id=vid, routes=(m.Route(cidr, target_kind="local", target_id="local"),),
                            associations=(m.RouteTableAssociation(ids("rtbassoc"), main=True),))
        public_rt = m.RouteTable(
            id=ids("rtb"), vpc_id=vid,
            routes=(m.Route(cidr, target_kind="local", target_id="local"),
                    m.Route("0.0.0.0/0", target_kind="internet_gateway", target_id=igw)),
            associations=tuple(m.RouteTableAssociation(ids("rtbassoc"), subnet_id=s) for s in sub_ids[:n_public]))
        public_tables.append(public_rt)
        private_subs = sub_ids[n_public:]
        privates = []
        for t in range(n_private_tables):
            mine = private_subs[t::n_private_tables]
            privates.append(m.RouteTable(
                id=ids("rtb"), vpc_id=vid,
                routes=(m.Route(cidr, target_kind="local", target_id="local"),
                        m.Route("0.0.0.0/0", target_kind="nat_gateway", target_id=nats[t % 3])),
                associations=tuple(m.RouteTableAssociation(ids("rtbassoc"), subnet_id=s) for s in mine)))
        acc.route_tables += [main, public_rt, *privates]
        acc.acls.append(m.NetworkAcl(id=ids("acl"), vpc_id=vid, is_default=True, entries=allow_all_entries(),
                                     associations=tuple(m.NaclAssociation(ids("aclassoc"), s) for s in sub_ids)))
        vpc_groups[vid] = [ids("sg") for _ in range(groups_per_vpc[v])]

    # Security groups: spread the rule budget (minus the planted groups' rules) over healthy groups.
    planted_rules = f * (2 + 2 + 2 + 1 + 61 + 1) + 6 * f  # ingress of SG001..SG006 plants + their egress
    healthy = [(vid, gid) for vid, gs in vpc_groups.items() for gid in gs]
    ingress_budget = size.rules - planted_rules - len(healthy)  # one egress rule each
    per_group = _split(ingress_budget, len(healthy))
    for k, ((vid, gid), n) in enumerate(zip(healthy, per_group, strict=True)):
        rules = healthy_rules(ids, rng, gid, min(n, 55), vpc_groups[vid], k)
        acc.groups.append(m.SecurityGroup(id=gid, group_name=f"app-{k}", vpc_id=vid, owner_id=ACCOUNT,
                                          description="app", rules=tuple(rules)))

    # Instances and their network interfaces.
    subnet_vpc = [(s.id, s.vpc_id, s.availability_zone) for s in acc.subnets]
    for i in range(size.instances):
        sid, vid, az = subnet_vpc[rng.randrange(len(subnet_vpc))]
        groups = tuple(rng.sample(vpc_groups[vid], k=min(2, len(vpc_groups[vid]))))
        iid, eni = ids("i"), ids("eni")
        ip = f"10.{int(vid[-8:], 16) % 250}.{i % 250}.{10 + i % 200}"
        acc.instances.append(m.Instance(id=iid, instance_type=rng.choice(TYPES), state="running", subnet_id=sid,
                                        vpc_id=vid, availability_zone=az, image_id="ami-0abcdef1234567890",
                                        private_ip=ip, group_ids=groups, network_interface_ids=(eni,)))
        acc.enis.append(m.NetworkInterface(id=eni, subnet_id=sid, vpc_id=vid, private_ip=ip, group_ids=groups,
                                           instance_id=iid, status="in-use"))

    plant(acc, ids, size, public_tables)
    return acc


def plant(acc: Account, ids: Ids, size: Size, public_tables: list[m.RouteTable]) -> None:
    """`size.faults` faults per rule, each on its own resource, recorded in `acc.expected`."""
    f = size.faults
    vpc = acc.vpcs[0]
    vid, cidr = vpc.id, vpc.cidr_blocks[0]
    local = m.Route(cidr, target_kind="local", target_id="local")
    base = 128  # third octet for planted subnets in VPC 0 (healthy ones use 0..n < 128)

    def subnet(i: int, public: bool) -> m.Subnet:
        s = m.Subnet(id=ids("subnet"), vpc_id=vid, cidr_block=f"10.0.{base + i}.0/24", availability_zone=ZONES[i % 3],
                     map_public_ip_on_launch=public, available_ip_address_count=251)
        acc.subnets.append(s)
        return s

    bad_acl_subnets = []
    public_rt = public_tables[0]
    extra_public_assocs = []
    for i in range(f):
        # NET002: maps public IPs, but its own route table has no default route
        s = subnet(4 * i, True)
        acc.route_tables.append(m.RouteTable(id=ids("rtb"), vpc_id=vid, routes=(local,), associations=(
            m.RouteTableAssociation(ids("rtbassoc"), subnet_id=s.id),)))
        acc.expected.add(("NET002", s.id))
        # NET003: an internet gateway attached to nothing, used by no route
        igw = ids("igw")
        acc.igws.append(m.InternetGateway(id=igw, owner_id=ACCOUNT))
        acc.expected.add(("NET003", igw))
        # NET004: a private table whose default route goes to a deleted NAT gateway
        s = subnet(4 * i + 1, False)
        nat = ids("nat")
        acc.nats.append(m.NatGateway(id=nat, vpc_id=vid, subnet_id=acc.subnets[0].id, state="deleted"))
        rtb = m.RouteTable(id=ids("rtb"), vpc_id=vid, routes=(
            local, m.Route("0.0.0.0/0", target_kind="nat_gateway", target_id=nat)),
            associations=(m.RouteTableAssociation(ids("rtbassoc"), subnet_id=s.id),))
        acc.route_tables.append(rtb)
        acc.expected.add(("NET004", rtb.id))
        # NET005: routed to the internet gateway, but maps no public IP
        s = subnet(4 * i + 2, False)
        extra_public_assocs.append(s.id)
        acc.expected.add(("NET005", s.id))
        # NET007: public subnet whose network ACL denies the ephemeral return ports outbound
        s = subnet(4 * i + 3, True)
        extra_public_assocs.append(s.id)
        bad_acl_subnets.append(s.id)
        acc.expected.add(("NET007", s.id))
    idx = acc.route_tables.index(public_rt)
    acc.route_tables[idx] = m.RouteTable(
        id=public_rt.id, vpc_id=vid, routes=public_rt.routes,
        associations=public_rt.associations + tuple(m.RouteTableAssociation(ids("rtbassoc"), subnet_id=s)
                                                    for s in extra_public_assocs))
    default_acl = acc.acls[0]
    acc.acls[0] = m.NetworkAcl(id=default_acl.id, vpc_id=vid, is_default=True, entries=default_acl.entries,
                               associations=default_acl.associations + tuple(
                                   m.NaclAssociation(ids("aclassoc"), s) for s in extra_public_assocs
                                   if s not in bad_acl_subnets)
                               + tuple(m.NaclAssociation(ids("aclassoc"), s.id) for s in acc.subnets[-4 * f:]
                                       if s.id not in extra_public_assocs))
    acc.acls.append(m.NetworkAcl(
        id=ids("acl"), vpc_id=vid, entries=(
            m.NaclEntry(100, False, "allow", "-1", "0.0.0.0/0"), m.NaclEntry(32767, False, "deny", "-1", "0.0.0.0/0"),
            m.NaclEntry(50, True, "deny", "6", "0.0.0.0/0", port_from=1024, port_to=65535),
            m.NaclEntry(100, True, "allow", "-1", "0.0.0.0/0"), m.NaclEntry(32767, True, "deny", "-1", "0.0.0.0/0")),
        associations=tuple(m.NaclAssociation(ids("aclassoc"), s) for s in bad_acl_subnets)))

    def group(name: str, rules: list[m.SecurityGroupRule], gid: str) -> None:
        egress = _rule(ids, gid, 0, "0.0.0.0/0", egress=True, proto="-1")
        acc.groups.append(m.SecurityGroup(id=gid, group_name=name, vpc_id=vid, owner_id=ACCOUNT,
                                          description="planted", rules=(*rules, egress)))

    for i in range(f):
        g = ids("sg")  # SG001: the same rule twice, written differently
        group(f"dup-{i}", [_rule(ids, g, 8000, "10.0.0.0/16"), _rule(ids, g, 8000, "10.0.5.9/16")], g)
        acc.expected.add(("SG001", g))
        g = ids("sg")  # SG002: a range inside a wider range for the same peer
        group(f"redundant-{i}", [_rule(ids, g, (8000, 8010), "192.0.2.0/24"),
                                 _rule(ids, g, (8000, 9000), "192.0.2.0/24")], g)
        acc.expected.add(("SG002", g))
        g = ids("sg")  # SG003: partly overlapping ranges for the same peer
        group(f"overlap-{i}", [_rule(ids, g, (8000, 8010), "198.51.100.0/24"),
                               _rule(ids, g, (8005, 8020), "198.51.100.0/24")], g)
        acc.expected.add(("SG003", g))
        g = ids("sg")  # SG004: SSH open to the world
        group(f"ssh-{i}", [_rule(ids, g, 22, "0.0.0.0/0")], g)
        acc.expected.add(("SG004", g))
        g = ids("sg")  # SG005: 61 inbound rules, over the default quota of 60
        group(f"crowded-{i}", [_rule(ids, g, 9000, f"100.64.{j}.0/24") for j in range(61)], g)
        acc.expected.add(("SG005", g))
        g = ids("sg")  # SG006: a reference to a group that no longer exists
        group(f"stale-{i}", [_rule(ids, g, 5432, ref=ids("sg"))], g)
        acc.expected.add(("SG006", g))
    acc.expected.add(("NET006", REGION))


def inventory(acc: Account) -> m.Inventory:
    return m.Inventory(
        cloud="aws", account=ACCOUNT, region=REGION, collected_at="2026-01-01T00:00:00+00:00", source="bench",
        vpcs=tuple(acc.vpcs), subnets=tuple(acc.subnets), route_tables=tuple(acc.route_tables),
        internet_gateways=tuple(acc.igws), nat_gateways=tuple(acc.nats), network_acls=tuple(acc.acls),
        security_groups=tuple(acc.groups), instances=tuple(acc.instances), network_interfaces=tuple(acc.enis))


def counts(inv: m.Inventory) -> dict[str, int]:
    out = {t: len(getattr(inv, t)) for t in m.RESOURCE_TYPES}
    out["security_group_rules"] = sum(len(g.rules) for g in inv.security_groups)
    return out


def iter_expected(acc: Account) -> Iterator[dict[str, str]]:
    for rule, resource in sorted(acc.expected):
        yield {"rule": rule, "resource": resource}


def write(size_name: str, out: Path, seed: int = 7) -> dict[str, object]:
    acc = build(SIZES[size_name], seed)
    inv = inventory(acc)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(snapshot.dumps([inv]) + "\n")
    meta = {"size": size_name, "seed": seed, "counts": counts(inv), "faults_per_rule": SIZES[size_name].faults,
            "expected": list(iter_expected(acc))}
    out.with_suffix(".expected.json").write_text(json.dumps(meta, indent=1) + "\n")
    return meta


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", choices=sorted(SIZES), default="S")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    out = args.out or Path(__file__).parent / ".data" / f"{args.size}.json"
    meta = write(args.size, out, args.seed)
    print(f"{out}: {meta['counts']}, {len(meta['expected'])} planted faults")  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
