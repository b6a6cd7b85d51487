"""AWS collector: the only code that reads an AWS account.

One paginated Describe call sequence per resource type per region, never one call per resource;
the types are fetched concurrently on one shared client (botocore clients are thread-safe), with
botocore's adaptive retry mode. A type that cannot be read is recorded in `Inventory.unreadable`
with the permission that would make it readable, so rules report UNKNOWN instead of PASS.

Other modules add data beyond the network (IAM, quotas, offerings...) with `@extra_collector`;
an extra runs only when a selected rule `needs` it, and stores JSON-able data in
`Inventory.extra[name]`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import re
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.config
import botocore.exceptions
import botocore.parsers
import botocore.utils

from preflight.collect.registry import EXTRA_PROVIDERS, load_extra_collectors
from preflight.errors import CredentialsError, PreflightError, redact_url
from preflight.inventory import model as m
from preflight.semantics.remedies import route_target
from preflight.settings import RunSettings

DENIED_CODES = frozenset({
    "AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthFailure",
    "UnauthorizedAccess", "OptInRequired",
})
CREDENTIAL_CODES = frozenset({
    "InvalidClientTokenId", "SignatureDoesNotMatch", "ExpiredToken", "ExpiredTokenException",
    "InvalidAccessKeyId", "UnrecognizedClientException", "RequestExpired",
})


@dataclass
class CallStats:
    """API calls made in one run, counted from botocore's own events (so nothing escapes)."""

    calls: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    seconds: dict[str, float] = field(default_factory=dict)

    # Responses received per operation (a paginated sequence of N pages is N calls and N pages;
    # an error response counts as a call but not as a page) and botocore's retry attempts.
    pages: dict[str, int] = field(default_factory=dict)
    retries: int = 0

    def hook(self, model: Any = None, **_: Any) -> None:
        name = f"{model.service_model.service_name}:{model.name}" if model is not None else "?"
        with self.lock:
            self.calls[name] = self.calls.get(name, 0) + 1

    def after_hook(self, model: Any = None, http_response: Any = None, parsed: Any = None, **_: Any) -> None:
        name = f"{model.service_model.service_name}:{model.name}" if model is not None else "?"
        meta = (parsed or {}).get("ResponseMetadata", {}) if isinstance(parsed, dict) else {}
        ok = getattr(http_response, "status_code", 200) < 300
        with self.lock:
            if ok:
                self.pages[name] = self.pages.get(name, 0) + 1
            self.retries += int(meta.get("RetryAttempts", 0) or 0)

    def clear(self) -> None:
        with self.lock:
            self.calls.clear()
            self.pages.clear()
            self.retries = 0

    @property
    def total(self) -> int:
        return sum(self.calls.values())


# One bounded budget per API call, retries included: botocore's adaptive retries (the only retry
# layer for throttling: preflight's own retry, launch/retry.py, only waits out eventual
# consistency) with at most MAX_ATTEMPTS HTTP requests in all (botocore's `total_max_attempts`;
# its `max_attempts` would count retries only, one request more), each waiting at most CONNECT_TIMEOUT to
# connect and READ_TIMEOUT for an answer. An endpoint that accepts connections and never answers
# thus fails in about MAX_ATTEMPTS x READ_TIMEOUT (~80 s), with one line, instead of 8 x 60 s.
# PREFLIGHT_READ_TIMEOUT / PREFLIGHT_CONNECT_TIMEOUT (seconds) tune it for slow links.
MAX_ATTEMPTS = 4
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 20.0


def _seconds(env: str, default: float) -> float:
    import math
    import os

    raw = os.environ.get(env, "")
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0 or value > 3600:
        raise PreflightError(f"{env}={raw!r}: expected seconds between 0 and 3600, like 20")
    return value


def client_config() -> botocore.config.Config:
    return botocore.config.Config(
        retries={"mode": "adaptive", "total_max_attempts": MAX_ATTEMPTS},
        max_pool_connections=32,
        connect_timeout=_seconds("PREFLIGHT_CONNECT_TIMEOUT", CONNECT_TIMEOUT),
        read_timeout=_seconds("PREFLIGHT_READ_TIMEOUT", READ_TIMEOUT),
        user_agent_extra="preflight",
    )


def endpoint_problem(exc: BaseException, endpoint: str) -> PreflightError | None:
    """One line for an endpoint that did not answer, or answered with something that is not an AWS
    API response (an HTML page, an empty body, a proxy's error), instead of botocore's parser
    errors; None when `exc` is not such a failure."""
    where = redact_url(endpoint) if endpoint else "the AWS endpoint"
    if isinstance(exc, (botocore.exceptions.ReadTimeoutError, botocore.exceptions.ConnectTimeoutError)):
        return PreflightError(f"{where} did not answer in time ({MAX_ATTEMPTS} attempts); check --endpoint-url, "
                              "the network, or raise PREFLIGHT_READ_TIMEOUT")
    if isinstance(exc, (botocore.exceptions.EndpointConnectionError, botocore.exceptions.ConnectionClosedError)):
        return PreflightError(f"cannot reach {where}; check --endpoint-url and the network")
    parser_errors = (botocore.parsers.ResponseParserError, KeyError, ValueError, TypeError, AttributeError)
    if isinstance(exc, parser_errors):
        return PreflightError(f"{where} did not answer like an AWS API (unparseable response: "
                              f"{type(exc).__name__}); check --endpoint-url")
    return None


class AwsSession:
    """A boto3 session plus endpoint and call accounting, shared by every collector of a run."""

    def __init__(self, profile: str | None = None, region: str | None = None,
                 endpoint_url: str | None = None, stats: CallStats | None = None,
                 settings: RunSettings | None = None, page_size: int | None = None) -> None:
        try:
            self.session = boto3.Session(profile_name=profile, region_name=region)
        except botocore.exceptions.ProfileNotFound:
            raise CredentialsError(f"AWS profile {profile!r} not found in your AWS config") from None
        if endpoint_url and not (botocore.utils.is_valid_endpoint_url(endpoint_url)
                                 or botocore.utils.is_valid_ipv6_endpoint_url(endpoint_url)):
            # botocore would raise a bare ValueError at the first client.
            raise PreflightError(f"--endpoint-url (or AWS_ENDPOINT_URL): {redact_url(endpoint_url)!r} is not a URL "
                                 "like http://127.0.0.1:5000")
        self.endpoint_url = endpoint_url
        # The run's settings travel with its session to every collector (IAM mode, cache...).
        self.settings = settings or RunSettings()
        # Items per Describe page: None asks each API for its documented maximum (tests force 5 so
        # that a NextToken left unfollowed loses data and fails).
        self.page_size = page_size
        self.stats = stats or CallStats()
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()
        self.identity: dict[str, str] | None = None  # GetCallerIdentity, asked once per session
        # Held while asking it, so that the reads and the extras that start at once ask it once.
        self.identity_lock = threading.Lock()

    def client(self, service: str, region: str) -> Any:
        with self._lock:
            key = (service, region)
            if key not in self._clients:
                c = self.session.client(service, region_name=region, endpoint_url=self.endpoint_url,
                                        config=client_config())
                c.meta.events.register("before-call", self.stats.hook)
                c.meta.events.register("after-call", self.stats.after_hook)
                if service == "ec2":
                    c.meta.events.register("before-parse.ec2", _drop_unused_xml)
                self._clients[key] = c
            return self._clients[key]


_REGIONS: dict[str, list[str]] = {}


def known_regions(session: AwsSession) -> list[str]:
    """EC2 regions botocore knows (its bundled endpoint data: no API call). Loaded once per
    partition and process, since reading that data costs ~50 ms each time."""
    partition = session.session.get_partition_for_region(session.session.region_name or "us-east-1")
    if partition not in _REGIONS:
        _REGIONS[partition] = sorted(set(session.session.get_available_regions("ec2", partition))
                                     | {"eu-south-1", "eu-south-2"})
    return _REGIONS[partition]


def check_region(session: AwsSession, region: str) -> None:
    if not region:
        raise PreflightError("no region given: pass --region (for example --region eu-south-1)")
    if region not in known_regions(session):
        raise PreflightError(f"unknown AWS region {region!r} (for example eu-south-1, us-east-1)")


def caller_identity(session: AwsSession, region: str) -> dict[str, str]:
    """STS GetCallerIdentity (once per session: the identity does not depend on the region);
    a missing or rejected credential is a one-line CredentialsError."""
    cached = getattr(session, "identity", None)  # duck-typed sessions (tests) may lack the slot
    if cached is not None:
        return cached
    lock = getattr(session, "identity_lock", None)
    if lock is None:
        return _ask_identity(session, region)
    with lock:
        return getattr(session, "identity", None) or _ask_identity(session, region)


def _ask_identity(session: AwsSession, region: str) -> dict[str, str]:
    try:
        ident = session.client("sts", region).get_caller_identity()
        if not isinstance(ident, dict):
            raise ValueError("GetCallerIdentity answered with no document")
    except botocore.exceptions.NoCredentialsError:
        raise CredentialsError(
            "no AWS credentials found: set AWS_PROFILE or pass --profile, or try --sandbox"
        ) from None
    except (botocore.exceptions.PartialCredentialsError, botocore.exceptions.TokenRetrievalError,
            botocore.exceptions.SSOError) as exc:
        raise CredentialsError(f"AWS credentials are not usable: {type(exc).__name__}") from None
    except botocore.exceptions.ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in CREDENTIAL_CODES:
            raise CredentialsError(f"AWS rejected the credentials ({code}): check --profile or refresh them") from None
        raise PreflightError(f"cannot identify the caller ({code})") from None
    except Exception as exc:  # noqa: BLE001 - mapped to one line when it is the endpoint's fault
        problem = endpoint_problem(exc, getattr(session, "endpoint_url", None) or "")
        if problem is None:
            raise
        raise problem from None
    found = {"account": ident.get("Account", ""), "arn": ident.get("Arn", ""), "user_id": ident.get("UserId", "")}
    session.identity = found
    return found


# --- parsers: AWS shapes -> inventory dataclasses ---------------------------------------------

def _tags(item: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t.get("Value", "") for t in item.get("Tags") or [] if "Key" in t}


def parse_vpc(v: dict[str, Any]) -> m.Vpc:
    return m.Vpc(
        id=v["VpcId"],
        cidr_blocks=tuple(a["CidrBlock"] for a in v.get("CidrBlockAssociationSet") or []
                          if a.get("CidrBlockState", {}).get("State", "associated") == "associated")
        or ((v["CidrBlock"],) if v.get("CidrBlock") else ()),
        ipv6_cidr_blocks=tuple(a["Ipv6CidrBlock"] for a in v.get("Ipv6CidrBlockAssociationSet") or []
                               if a.get("Ipv6CidrBlock")),
        is_default=bool(v.get("IsDefault")),
        state=v.get("State", ""),
        owner_id=v.get("OwnerId", ""),
        tags=_tags(v),
    )


def parse_subnet(s: dict[str, Any]) -> m.Subnet:
    return m.Subnet(
        id=s["SubnetId"],
        vpc_id=s.get("VpcId", ""),
        cidr_block=s.get("CidrBlock", ""),
        ipv6_cidr_blocks=tuple(a["Ipv6CidrBlock"] for a in s.get("Ipv6CidrBlockAssociationSet") or []
                               if a.get("Ipv6CidrBlock")),
        availability_zone=s.get("AvailabilityZone", ""),
        availability_zone_id=s.get("AvailabilityZoneId", ""),
        map_public_ip_on_launch=bool(s.get("MapPublicIpOnLaunch")),
        assign_ipv6_address_on_creation=bool(s.get("AssignIpv6AddressOnCreation")),
        default_for_az=bool(s.get("DefaultForAz")),
        available_ip_address_count=int(s.get("AvailableIpAddressCount") or 0),
        state=s.get("State", ""),
        tags=_tags(s),
    )


def parse_route(r: dict[str, Any]) -> m.Route:
    kind, target = route_target(r)  # the one kind <-> API parameter mapping (semantics.remedies)
    return m.Route(
        destination_cidr=r.get("DestinationCidrBlock", ""),
        destination_ipv6_cidr=r.get("DestinationIpv6CidrBlock", ""),
        destination_prefix_list=r.get("DestinationPrefixListId", ""),
        target_kind=kind,
        target_id=target,
        state=r.get("State", "active"),
        origin=r.get("Origin", ""),
    )


def parse_route_table(t: dict[str, Any]) -> m.RouteTable:
    return m.RouteTable(
        id=t["RouteTableId"],
        vpc_id=t.get("VpcId", ""),
        routes=tuple(parse_route(r) for r in t.get("Routes") or []),
        associations=tuple(
            m.RouteTableAssociation(
                id=a.get("RouteTableAssociationId", ""),
                subnet_id=a.get("SubnetId", ""),
                gateway_id=a.get("GatewayId", ""),
                main=bool(a.get("Main")),
                state=(a.get("AssociationState") or {}).get("State", "associated"),
            )
            for a in t.get("Associations") or []
        ),
        tags=_tags(t),
    )


def _attachments(item: dict[str, Any]) -> tuple[m.Attachment, ...]:
    return tuple(m.Attachment(vpc_id=a.get("VpcId", ""), state=a.get("State", ""))
                 for a in item.get("Attachments") or [])


def parse_igw(g: dict[str, Any]) -> m.InternetGateway:
    return m.InternetGateway(id=g["InternetGatewayId"], attachments=_attachments(g),
                             owner_id=g.get("OwnerId", ""), tags=_tags(g))


def parse_eigw(g: dict[str, Any]) -> m.EgressOnlyInternetGateway:
    return m.EgressOnlyInternetGateway(id=g["EgressOnlyInternetGatewayId"], attachments=_attachments(g), tags=_tags(g))


def parse_nat(n: dict[str, Any]) -> m.NatGateway:
    return m.NatGateway(
        id=n["NatGatewayId"], vpc_id=n.get("VpcId", ""), subnet_id=n.get("SubnetId", ""),
        state=n.get("State", ""), connectivity_type=n.get("ConnectivityType", "public"),
        public_ips=tuple(a["PublicIp"] for a in n.get("NatGatewayAddresses") or [] if a.get("PublicIp")),
        tags=_tags(n),
    )


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


def parse_nacl(a: dict[str, Any]) -> m.NetworkAcl:
    entries = []
    for e in a.get("Entries") or []:
        pr = e.get("PortRange") or {}
        icmp = e.get("IcmpTypeCode") or {}
        entries.append(m.NaclEntry(
            rule_number=int(e.get("RuleNumber", 32767)), egress=bool(e.get("Egress")),
            action=e.get("RuleAction", "deny"), protocol=str(e.get("Protocol", "-1")),
            cidr_block=e.get("CidrBlock", ""), ipv6_cidr_block=e.get("Ipv6CidrBlock", ""),
            port_from=_int_or_none(pr.get("From")), port_to=_int_or_none(pr.get("To")),
            icmp_type=_int_or_none(icmp.get("Type")), icmp_code=_int_or_none(icmp.get("Code")),
        ))
    return m.NetworkAcl(
        id=a["NetworkAclId"], vpc_id=a.get("VpcId", ""), is_default=bool(a.get("IsDefault")),
        entries=tuple(entries),
        associations=tuple(m.NaclAssociation(id=x.get("NetworkAclAssociationId", ""), subnet_id=x.get("SubnetId", ""))
                           for x in a.get("Associations") or []),
        tags=_tags(a),
    )


def parse_sg_rule(r: dict[str, Any]) -> m.SecurityGroupRule:
    ref = r.get("ReferencedGroupInfo")
    frm, to = r.get("FromPort"), r.get("ToPort")
    proto = str(r.get("IpProtocol", "-1"))
    if proto == "-1" or (proto in ("tcp", "udp", "6", "17") and frm == -1):
        frm = to = None
    return m.SecurityGroupRule(
        id=r.get("SecurityGroupRuleId", ""), group_id=r.get("GroupId", ""), egress=bool(r.get("IsEgress")),
        ip_protocol=proto, from_port=_int_or_none(frm), to_port=_int_or_none(to),
        cidr_ipv4=r.get("CidrIpv4", ""), cidr_ipv6=r.get("CidrIpv6", ""), prefix_list_id=r.get("PrefixListId", ""),
        referenced_group=m.UserIdGroupPair(
            group_id=ref.get("GroupId", ""), user_id=ref.get("UserId", ""), vpc_id=ref.get("VpcId", ""),
            vpc_peering_connection_id=ref.get("VpcPeeringConnectionId", ""),
            peering_status=ref.get("PeeringStatus", ""),
        ) if ref else None,
        description=r.get("Description", ""),
    )


def parse_instance(i: dict[str, Any]) -> m.Instance:
    return m.Instance(
        id=i["InstanceId"], instance_type=i.get("InstanceType", ""), state=(i.get("State") or {}).get("Name", ""),
        subnet_id=i.get("SubnetId", ""), vpc_id=i.get("VpcId", ""),
        availability_zone=(i.get("Placement") or {}).get("AvailabilityZone", ""), image_id=i.get("ImageId", ""),
        key_name=i.get("KeyName", ""), private_ip=i.get("PrivateIpAddress", ""), public_ip=i.get("PublicIpAddress", ""),
        ipv6_addresses=tuple(a["Ipv6Address"] for n in i.get("NetworkInterfaces") or []
                             for a in n.get("Ipv6Addresses") or [] if a.get("Ipv6Address")),
        group_ids=tuple(g["GroupId"] for g in i.get("SecurityGroups") or []),
        network_interface_ids=tuple(n["NetworkInterfaceId"] for n in i.get("NetworkInterfaces") or []),
        instance_profile_arn=(i.get("IamInstanceProfile") or {}).get("Arn", ""),
        lifecycle=i.get("InstanceLifecycle", ""), tags=_tags(i),
    )


def parse_eni(n: dict[str, Any]) -> m.NetworkInterface:
    return m.NetworkInterface(
        id=n["NetworkInterfaceId"], subnet_id=n.get("SubnetId", ""), vpc_id=n.get("VpcId", ""),
        private_ip=n.get("PrivateIpAddress", ""), public_ip=(n.get("Association") or {}).get("PublicIp", ""),
        ipv6_addresses=tuple(a["Ipv6Address"] for a in n.get("Ipv6Addresses") or [] if a.get("Ipv6Address")),
        group_ids=tuple(g["GroupId"] for g in n.get("Groups") or []),
        instance_id=(n.get("Attachment") or {}).get("InstanceId", ""), status=n.get("Status", ""),
        interface_type=n.get("InterfaceType", "interface"), tags=_tags(n),
    )


def parse_peering(p: dict[str, Any]) -> m.VpcPeeringConnection:
    return m.VpcPeeringConnection(
        id=p["VpcPeeringConnectionId"], requester_vpc_id=(p.get("RequesterVpcInfo") or {}).get("VpcId", ""),
        accepter_vpc_id=(p.get("AccepterVpcInfo") or {}).get("VpcId", ""),
        status=(p.get("Status") or {}).get("Code", ""), tags=_tags(p),
    )


# botocore turns every element of an answer into Python objects, and most of what some Describes
# return is never read: DescribeSecurityGroups repeats every rule of every group (the collector
# reads them, with their ids, from DescribeSecurityGroupRules), DescribeInstances and
# DescribeNetworkInterfaces carry block devices, private address sets, attachments and options
# by the dozen per resource. Those elements are cut from the XML before botocore parses it (the
# `before-parse` event): each Fetcher names the XML elements its parser reads (`keep`, with their
# ancestors) and everything else the operation's output shape can hold is cut, by name, at any
# depth. Parsing them was most of an account-wide read's client CPU. Only the collector's own
# calls are cut (the pattern is set per thread around each call); fixers reading through the
# same client get answers whole. Older botocore (before the before-parse event, e.g. 1.34.0)
# parses everything: slower, same result.
_PENDING_DROP = threading.local()
_DROP_PATTERNS: dict[tuple[str, str], re.Pattern[bytes] | None] = {}


def _drop_unused_xml(response_dict: dict[str, Any], **_: Any) -> None:
    pattern = getattr(_PENDING_DROP, "pattern", None)
    body = response_dict.get("body")
    if pattern is not None and isinstance(body, bytes) and response_dict.get("status_code", 500) < 300:
        response_dict["body"] = pattern.sub(b"", body)


def unread_elements(output_shape: Any, keep: frozenset[str]) -> set[str]:
    """The XML element names an output shape can hold, at any depth, minus `keep` and minus any
    name that can contain an element of its own name (cutting it by a non-greedy match would
    break the XML)."""
    names: set[str] = set()
    nesting: set[str] = set()

    def walk(shape: Any, outer: tuple[str, ...], seen: frozenset[str]) -> None:
        if shape.name in seen:  # a recursive shape
            return
        seen = seen | {shape.name}
        if shape.type_name == "structure":
            children = [(sh.serialization.get("name", key), sh) for key, sh in shape.members.items()]
        elif shape.type_name == "list":
            children = [(shape.member.serialization.get("name", "item"), shape.member)]
        elif shape.type_name == "map":
            children = [("item", shape.value)]
        else:
            return
        for name, child in children:
            names.add(name)
            if name in outer:
                nesting.add(name)
            walk(child, (*outer, name), seen)

    walk(output_shape, (), frozenset())
    return names - keep - nesting


def drop_pattern(client: Any, operation: str, keep: frozenset[str]) -> re.Pattern[bytes] | None:
    """A pattern matching the elements of `operation`'s answer outside `keep` (see
    `unread_elements`), built once per API version; None when `keep` is empty (nothing is cut)."""
    model = client.meta.service_model
    key = (model.api_version, operation)
    if not keep:
        return None
    if key not in _DROP_PATTERNS:
        shape = model.operation_model(client.meta.method_to_api_mapping[operation]).output_shape
        names = unread_elements(shape, keep) if shape is not None else set()
        # An element, empty (<name/>) or up to its end tag (no name in the set contains itself).
        _DROP_PATTERNS[key] = re.compile(rb"<(" + _prefix_tree(names) + rb")(?:\s[^>]*?)?(?:/>|>.*?</\1>)",
                                         re.S) if names else None
    return _DROP_PATTERNS[key]


def _prefix_tree(names: Iterable[str]) -> bytes:
    """An alternation of `names` as a regex prefix tree: a tag is then told in a few character
    tests instead of one per name (a plain alternation of 150 names tripled the cut's cost)."""
    heads: dict[str, list[str]] = {}
    for name in names:
        heads.setdefault(name[:1], []).append(name[1:])
    branches = []
    for head, tails in sorted(heads.items()):
        if head == "":
            continue
        rest = [t for t in tails if t]
        inner = _prefix_tree(rest) if rest else b""
        if inner and len(rest) < len(tails):  # one name ends here, others go on
            inner = b"(?:" + inner + b")?"
        elif len(rest) > 1 or (rest and b"|" in inner):
            inner = b"(?:" + inner + b")"
        branches.append(re.escape(head.encode()) + inner)
    return b"|".join(branches)


def _wire(*names: str) -> frozenset[str]:
    # Lists' elements are <item>s; the pagination token is read to follow it.
    return frozenset(("item", "nextToken", *names))


_TAGS = ("tagSet", "key", "value")


@dataclass(frozen=True)
class Fetcher:
    operation: str  # boto3 method name on the ec2 client
    result_key: str
    permission: str
    parse: Callable[[dict[str, Any]], Any]
    # The EC2 filter that names a VPC, for types a plan-scoped read limits to the plan's VPCs; ""
    # for types always read account-wide (VPCs, gateways, peerings: few, and the rules judge the
    # plan against all of them, e.g. NET003 an internet gateway attached to another VPC).
    vpc_filter: str = ""
    filter_param: str = "Filters"  # DescribeNatGateways calls it `Filter`
    # The XML elements `parse` reads, with their ancestors: everything else is cut before botocore
    # parses the answer (see `drop_pattern`); empty: the answer is parsed whole.
    keep: frozenset[str] = frozenset()


FETCHERS: dict[str, Fetcher] = {
    "vpcs": Fetcher("describe_vpcs", "Vpcs", "ec2:DescribeVpcs", parse_vpc),
    "subnets": Fetcher("describe_subnets", "Subnets", "ec2:DescribeSubnets", parse_subnet, "vpc-id",
                       keep=_wire("subnetSet", "subnetId", "vpcId", "cidrBlock", "ipv6CidrBlockAssociationSet",
                                  "ipv6CidrBlock", "availabilityZone", "availabilityZoneId", "mapPublicIpOnLaunch",
                                  "assignIpv6AddressOnCreation", "defaultForAz", "availableIpAddressCount", "state",
                                  *_TAGS)),
    "route_tables": Fetcher("describe_route_tables", "RouteTables", "ec2:DescribeRouteTables", parse_route_table,
                            "vpc-id"),
    "internet_gateways": Fetcher("describe_internet_gateways", "InternetGateways",
                                 "ec2:DescribeInternetGateways", parse_igw),
    "egress_only_internet_gateways": Fetcher("describe_egress_only_internet_gateways", "EgressOnlyInternetGateways",
                                             "ec2:DescribeEgressOnlyInternetGateways", parse_eigw),
    "nat_gateways": Fetcher("describe_nat_gateways", "NatGateways", "ec2:DescribeNatGateways", parse_nat,
                            "vpc-id", "Filter"),
    "network_acls": Fetcher("describe_network_acls", "NetworkAcls", "ec2:DescribeNetworkAcls", parse_nacl, "vpc-id"),
    "security_groups": Fetcher("describe_security_groups", "SecurityGroups", "ec2:DescribeSecurityGroups", dict,
                               "vpc-id", keep=_wire("securityGroupInfo", "groupId", "groupName", "vpcId", "ownerId",
                                                    "groupDescription", *_TAGS)),
    "security_group_rules": Fetcher("describe_security_group_rules", "SecurityGroupRules",
                                    "ec2:DescribeSecurityGroupRules", parse_sg_rule,
                                    keep=_wire("securityGroupRuleSet", "securityGroupRuleId", "groupId", "isEgress",
                                               "ipProtocol", "fromPort", "toPort", "cidrIpv4", "cidrIpv6",
                                               "prefixListId", "referencedGroupInfo", "userId", "vpcId",
                                               "vpcPeeringConnectionId", "peeringStatus", "description")),
    "instances": Fetcher("describe_instances", "Reservations", "ec2:DescribeInstances", dict, "vpc-id",
                         keep=_wire("reservationSet", "reservationId", "instancesSet", "instanceId", "instanceType",
                                    "instanceState", "name", "subnetId", "vpcId", "placement", "availabilityZone",
                                    "imageId", "keyName", "privateIpAddress", "ipAddress", "networkInterfaceSet",
                                    "networkInterfaceId", "ipv6AddressesSet", "ipv6Address", "groupSet", "groupId",
                                    "iamInstanceProfile", "arn", "instanceLifecycle", *_TAGS)),
    "network_interfaces": Fetcher("describe_network_interfaces", "NetworkInterfaces",
                                  "ec2:DescribeNetworkInterfaces", parse_eni, "vpc-id",
                                  keep=_wire("networkInterfaceSet", "networkInterfaceId", "subnetId", "vpcId",
                                             "privateIpAddress", "association", "publicIp", "ipv6AddressesSet",
                                             "ipv6Address", "groupSet", "groupId", "attachment", "instanceId",
                                             "status", "interfaceType", *_TAGS)),
    "vpc_peering_connections": Fetcher("describe_vpc_peering_connections", "VpcPeeringConnections",
                                       "ec2:DescribeVpcPeeringConnections", parse_peering),
}


# Documented maxima botocore's model does not state (DescribeInstances: 5-1000).
_DOCUMENTED_MAX_RESULTS = {"describe_instances": 1000}
MIN_PAGE = 5  # the smallest MaxResults EC2 accepts (when a model states no minimum)
FILTER_VALUES = 200  # EC2 accepts at most 200 values in one filter
# Filter sets (and rule shards) read at once: enough to turn a long chain into a few round trips,
# few enough to stay inside EC2's request-rate bucket for Describe calls.
MAX_SHARDS_AT_ONCE = 16


def _limit_shape(client: Any, operation: str) -> Any:
    op = client.meta.service_model.operation_model(client.meta.method_to_api_mapping[operation])
    members = op.input_shape.members if op.input_shape is not None else {}
    return members.get("MaxResults") or members.get("MaxItems")  # EC2 and most APIs / IAM


def page_limit(client: Any, operation: str) -> int | None:
    """The largest page `operation` accepts (its MaxResults or MaxItems, from botocore's service
    model: 100 for DescribeRouteTables, 255 for DescribeEgressOnlyInternetGateways, 20 for
    Organizations, 1000 for IAM...), or None if it takes no page size."""
    shape = _limit_shape(client, operation)
    if shape is None:
        return None
    return int(shape.metadata.get("max") or _DOCUMENTED_MAX_RESULTS.get(operation, 1000))


def page_size_for(client: Any, operation: str, wanted: int | None = None) -> int | None:
    """Items per page to ask `operation` for: `wanted` (tests force 5) within the API's own range,
    else the API's maximum; None when it takes no page size. Without one, some APIs answer
    everything at once and others truncate at a default (IAM: 100 items), so it is always sent."""
    limit = page_limit(client, operation)
    if limit is None:
        return None
    low = int(_limit_shape(client, operation).metadata.get("min") or MIN_PAGE)
    return max(low, min(wanted or limit, limit))


def paginate(client: Any, operation: str, page_size: int | None = None, **params: Any) -> Any:
    """botocore's paginator for `operation` (it follows every token), at `page_size_for`'s pages."""
    size = page_size_for(client, operation, page_size)
    config = {"PageSize": size} if size else {}
    return client.get_paginator(operation).paginate(**params, PaginationConfig=config)


def fetch_pages(client: Any, fetcher: Fetcher, page_size: int | None = None,
                filters: list[dict[str, Any]] | None = None) -> Generator[dict[str, Any], None, None]:
    """Every page of one Describe call, in order: MaxResults where the API takes it (without it
    some Describes return everything at once and others truncate), and every NextToken followed
    until there is none. A token seen twice is an error rather than an endless loop."""
    kwargs: dict[str, Any] = {fetcher.filter_param: filters} if filters else {}
    size = page_size_for(client, fetcher.operation, page_size)
    if size is not None:
        kwargs["MaxResults"] = size
    call = getattr(client, fetcher.operation)
    seen: set[str] = set()
    while True:
        _PENDING_DROP.pattern = drop_pattern(client, fetcher.operation, fetcher.keep)
        try:
            page = call(**kwargs)
        finally:
            _PENDING_DROP.pattern = None
        yield page
        token = page.get("NextToken")
        if not token:
            return
        if token in seen:
            raise PreflightError(f"ec2:{fetcher.operation}: the API returned the same NextToken twice")
        seen.add(token)
        kwargs["NextToken"] = token


def fetch_all(client: Any, fetcher: Fetcher, page_size: int | None = None,
              filters: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Every item of one Describe call (see `fetch_pages`), as raw dicts."""
    return [item for page in fetch_pages(client, fetcher, page_size, filters) for item in
            page.get(fetcher.result_key) or []]


def chunks(values: list[str], size: int | None = None) -> list[list[str]]:
    size = size or FILTER_VALUES
    return [values[i:i + size] for i in range(0, len(values), size)]


ExtraCollector = Callable[["AwsSession", str, Any], Any]
EXTRA_COLLECTORS: dict[str, ExtraCollector] = {}
# The IAM actions each extra collector's calls need: `preflight iam-policy` is generated from these and
# FETCHERS (tests/unit/test_iam_policy.py records every call a collection makes against them).
EXTRA_PERMISSIONS: dict[str, tuple[str, ...]] = {}
# What every collection calls besides FETCHERS: the identity once, and the enabled regions (--all-regions).
BASE_PERMISSIONS = ("sts:GetCallerIdentity", "ec2:DescribeRegions")

# The collect layer's registry (preflight.collect.registry, importable without any SDK): each data
# name a rule may `need` beyond the resource types, and the module whose `@extra_collector` reads it.
# Rules name what they read; they never import a collector.
EXTRA_MODULES = EXTRA_PROVIDERS


def extra_collector(name: str, permissions: tuple[str, ...] = ()) -> Callable[[ExtraCollector], ExtraCollector]:
    """Register `fn(session, region, plan) -> JSON-able` run when a rule needs `name` (which
    must be listed in EXTRA_MODULES); `permissions` are the IAM actions its calls need.
    `session.settings` holds the run's settings.

    Raise `Denied(permission, code)` for data that cannot be read; it becomes `unreadable`.
    """
    def deco(fn: ExtraCollector) -> ExtraCollector:
        EXTRA_COLLECTORS[name] = fn
        EXTRA_PERMISSIONS[name] = tuple(permissions)
        return fn
    return deco


def extra_collectors(names: Iterable[str]) -> dict[str, ExtraCollector]:
    """The collectors for the extra data names among `names` (importing their modules once);
    names that are not extras (resource types, other clouds' data) are left out."""
    wanted = sorted(n for n in set(names) if n in EXTRA_MODULES)
    load_extra_collectors(wanted)
    return {n: EXTRA_COLLECTORS[n] for n in wanted}


class Denied(Exception):
    def __init__(self, permission: str, code: str = "AccessDenied", message: str = "") -> None:
        super().__init__(message or code)
        self.permission, self.code, self.message = permission, code, message


def _error_code(exc: botocore.exceptions.ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def _fetch_type(client: Any, name: str, page_size: int | None = None,
                filters: list[list[dict[str, Any]]] | None = None) -> tuple[str, list[Any] | m.Unreadable]:
    """One resource type, parsed: all of it, or each filter set's results (read concurrently,
    deduplicated)."""
    fetcher = FETCHERS[name]

    def read() -> list[dict[str, Any]]:
        if filters is None:
            return fetch_all(client, fetcher, page_size)
        return _union(name, _concurrently(lambda f: fetch_all(client, fetcher, page_size, f), filters))

    return _guarded(client, name, read)


def _guarded(client: Any, name: str, read: Callable[[], list[dict[str, Any]]]) -> tuple[str, list[Any] | m.Unreadable]:
    """`read()`'s raw items of type `name`, parsed; an API refusal becomes `Unreadable` (with the
    permission), rejected credentials and an endpoint that does not answer end the run."""
    fetcher = FETCHERS[name]
    try:
        return name, [fetcher.parse(item) for item in read()]
    except botocore.exceptions.ClientError as exc:
        code = _error_code(exc)
        if code in CREDENTIAL_CODES:
            raise CredentialsError(f"AWS rejected the credentials ({code}): check --profile or refresh them") from None
        return name, m.Unreadable(resource_type=name, error_code=code or "Error", permission=fetcher.permission,
                                  message=str(exc.response.get("Error", {}).get("Message", ""))[:200])
    except (botocore.exceptions.EndpointConnectionError, botocore.exceptions.ReadTimeoutError,
            botocore.exceptions.ConnectTimeoutError, botocore.parsers.ResponseParserError) as exc:
        problem = endpoint_problem(exc, client.meta.endpoint_url)
        raise (problem or PreflightError(f"cannot read {name} in {client.meta.region_name}")) from None


def _concurrently(fn: Callable[[Any], list[dict[str, Any]]], args: list[Any]) -> list[list[dict[str, Any]]]:
    if len(args) <= 1:
        return [fn(a) for a in args]
    with ThreadPoolExecutor(max_workers=min(MAX_SHARDS_AT_ONCE, len(args))) as pool:
        return list(pool.map(fn, args))


def _union(name: str, results: Iterable[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Raw items of several reads of type `name`, each once (by id, in order of first sight)."""
    raw: dict[str, dict[str, Any]] = {}
    for items in results:
        for item in items:
            raw.setdefault(_item_key(name, item), item)
    return list(raw.values())


def _all_rules(client: Any, page_size: int | None, groups: Future[Any]) -> tuple[str, list[Any] | m.Unreadable]:
    """Every security-group rule of the region: usually the account's longest chain (20,000 rules
    are 20 pages, one after the other). When the first page says there are more, the rules are read
    instead by group-id filters (`rule_shards`, once the groups, read meanwhile, are known), all at
    once, so the read costs the groups' page plus about one page of rules rather than the whole
    chain (see bench/RESULTS.md). Every rule belongs to a group, and only the groups read are kept,
    so the shards miss nothing the whole chain would give; the first page's rules are kept too
    (deduplicated by rule id)."""
    fetcher = FETCHERS["security_group_rules"]

    def read() -> list[dict[str, Any]]:
        pages = fetch_pages(client, fetcher, page_size)
        first = next(pages)
        items = list(first.get(fetcher.result_key) or [])
        if not first.get("NextToken"):
            return items
        _, found = groups.result()
        ids = sorted({g["GroupId"] for g in found}) if isinstance(found, list) else []
        shards = rule_shards(ids, items, page_size_for(client, fetcher.operation, page_size) or len(items))
        if len(shards) <= 1:  # the chain is as fast (or sharding could not tell the groups)
            return items + [item for page in pages for item in page.get(fetcher.result_key) or []]
        pages.close()
        found_rules = _concurrently(lambda part: fetch_all(client, fetcher, page_size, [{"Name": "group-id",
                                                                                        "Values": part}]), shards)
        return _union("security_group_rules", [items, *found_rules])

    return _guarded(client, "security_group_rules", read)


def rule_shards(group_ids: list[str], first_page: list[dict[str, Any]], page: int) -> list[list[str]]:
    """Group-id filters to read the rules by, [] to follow the one chain. The first page says how
    many rules a group has (EC2 lists a group's rules together); each shard is sized to fit in about
    one page, at most FILTER_VALUES groups (EC2's limit per filter), and there are at most
    MAX_SHARDS_AT_ONCE of them (one round of requests). An account whose rules fill two pages or
    fewer reads faster by its chain: the second page costs one round trip as a shard would."""
    if not group_ids or not first_page:
        return []
    per_group = len(first_page) / max(1, len({r.get("GroupId") for r in first_page}))
    if per_group * len(group_ids) <= 2 * page:
        return []
    size = max(int(page * 0.8 / per_group), -(-len(group_ids) // MAX_SHARDS_AT_ONCE), 1)
    shards = chunks(group_ids, min(size, FILTER_VALUES))
    return shards if len(shards) > 1 else []


_ID_KEYS = {
    "vpcs": "VpcId", "subnets": "SubnetId", "route_tables": "RouteTableId", "internet_gateways": "InternetGatewayId",
    "egress_only_internet_gateways": "EgressOnlyInternetGatewayId", "nat_gateways": "NatGatewayId",
    "network_acls": "NetworkAclId", "security_groups": "GroupId", "security_group_rules": "SecurityGroupRuleId",
    "instances": "ReservationId", "network_interfaces": "NetworkInterfaceId",
    "vpc_peering_connections": "VpcPeeringConnectionId",
}


def _item_key(name: str, item: dict[str, Any]) -> str:
    return str(item.get(_ID_KEYS[name], id(item)))


def _filter_sets(name: str, values: Iterable[str]) -> list[list[dict[str, Any]]]:
    return [[{"Name": name, "Values": part}] for part in chunks(sorted(set(values)))]


def plan_vpcs(session: AwsSession, client: Any, region: str, plan: Any) -> tuple[str, ...]:
    """The VPCs a plan pins for `region`: its `vpc`, else the VPCs of its `subnets` (one DescribeSubnets
    call); () when it pins none, and the region is read account-wide."""
    if plan is None or (getattr(plan, "region", "") or region) != region:
        return ()
    if getattr(plan, "vpc", ""):
        return (str(plan.vpc),)
    named = tuple(getattr(plan, "subnets", ()) or ())
    if not named:
        return ()
    _, found = _fetch_type(client, "subnets", session.page_size, _filter_sets("subnet-id", named))
    return tuple(sorted({s.vpc_id for s in found if s.vpc_id})) if isinstance(found, list) else ()


def _scoped_rules(client: Any, page_size: int | None, groups: Future[Any]) -> tuple[Any, Any]:
    """(rules of the scoped groups, the out-of-scope groups they reference), read by group-id
    filters once the groups are known. The referenced groups let SG006 tell a group in another
    VPC from a deleted one, as an account-wide read would (their own rules are not read)."""
    _, found = groups.result()
    if not isinstance(found, list) or not found:
        return [], []
    ids = {g["GroupId"] for g in found}
    _, rules = _fetch_type(client, "security_group_rules", page_size, _filter_sets("group-id", ids))
    if not isinstance(rules, list):
        return rules, []
    refs = {r.referenced_group.group_id for r in rules if r.referenced_group is not None} - ids - {""}
    if not refs:
        return rules, []
    return rules, _fetch_type(client, "security_groups", page_size, _filter_sets("group-id", refs))[1]


def _igw_route_users(client: Any, page_size: int | None, igws: Future[Any], vpcs: tuple[str, ...]) -> Any:
    """Routes of OTHER VPCs to the internet gateways that matter to the plan's VPCs (those attached
    to them, and detached ones, which a fix may attach): [table, vpc, destination, igw] rows. NET003
    and the internet-gateway choice of the NET fixes judge a gateway by every route that uses it."""
    _, found = igws.result()
    if not isinstance(found, list):
        return []
    wanted = {g.id for g in found if not g.attached_vpcs() or set(g.attached_vpcs()) & set(vpcs)}
    if not wanted:
        return []
    _, tables = _fetch_type(client, "route_tables", page_size, _filter_sets("route.gateway-id", wanted))
    if not isinstance(tables, list):
        return tables
    return [[t.id, t.vpc_id, r.destination, r.target_id] for t in tables if t.vpc_id not in vpcs
            for r in t.routes if r.target_kind == "internet_gateway" and r.target_id in wanted]


def _read(client: Any, page_size: int | None, vpcs: tuple[str, ...],
          plan: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Every resource type, concurrently: account-wide, or for `vpcs` (see `collect`)."""
    def filters(name: str) -> list[list[dict[str, Any]]] | None:
        fetcher = FETCHERS[name]
        if not vpcs or not fetcher.vpc_filter or (name == "instances" and getattr(plan, "instance_type", None)):
            return None
        return _filter_sets(fetcher.vpc_filter, vpcs)

    names = ["security_groups", *(n for n in FETCHERS if n not in ("security_groups", "security_group_rules"))]
    results: dict[str, Any] = {}
    scope: dict[str, Any] = {}
    with ThreadPoolExecutor(max_workers=len(names) + 2) as pool:
        futures: dict[str, Future[Any]] = {}
        # A read that waits for another read's future is submitted after it, on a pool with a
        # worker per read: what it waits for is then always a running read of this pool, which
        # ends. An interrupt (Ctrl-C, SIGTERM) between two submits leaves the pool's shutdown
        # waiting only for reads that end, never for a future nothing would complete.
        futures["security_groups"] = pool.submit(_fetch_type, client, "security_groups", page_size,
                                                 filters("security_groups"))
        if not vpcs:
            # The rules are usually the longest chain: their first request goes out right after
            # the groups' (which it may wait for), and the rest of the reads (and their parsing)
            # fit in its waits.
            futures["security_group_rules"] = pool.submit(_all_rules, client, page_size, futures["security_groups"])
        futures.update({name: pool.submit(_fetch_type, client, name, page_size, filters(name)) for name in names[1:]})
        if vpcs:
            scoped_rules = pool.submit(_scoped_rules, client, page_size, futures["security_groups"])
            route_users = pool.submit(_igw_route_users, client, page_size, futures["internet_gateways"], vpcs)
        for name, fut in futures.items():
            results[name] = fut.result()[1]
        if vpcs:
            rules, referenced = scoped_rules.result()
            results["security_group_rules"] = rules
            if isinstance(referenced, m.Unreadable):
                results["security_groups"] = referenced
            elif isinstance(results["security_groups"], list):
                results["security_groups"] = results["security_groups"] + referenced
            users = route_users.result()
            if isinstance(users, m.Unreadable):
                results["route_tables"] = users
            scope = {"vpcs": list(vpcs), "igw_route_users": users if isinstance(users, list) else [],
                     "referenced_groups": sorted(g["GroupId"] for g in referenced) if isinstance(referenced, list)
                     else []}
    return results, scope


# The cyclic garbage collector is paused while regions are read: botocore's parsing allocates
# hundreds of thousands of dicts and lists (none of them in cycles: reference counting frees what
# is dropped), and the collector's passes over them, every 700 allocations, cost ~10% of an
# account-wide read's CPU. The first collection to start pauses it, the last to end restores
# what it found (collections of several regions or accounts overlap).
_GC_PAUSE = {"depth": 0, "was_enabled": False}
_GC_PAUSE_LOCK = threading.Lock()


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    with _GC_PAUSE_LOCK:
        if _GC_PAUSE["depth"] == 0:
            _GC_PAUSE["was_enabled"] = gc.isenabled()
            gc.disable()
        _GC_PAUSE["depth"] += 1
    try:
        yield
    finally:
        with _GC_PAUSE_LOCK:
            _GC_PAUSE["depth"] -= 1
            if _GC_PAUSE["depth"] == 0 and _GC_PAUSE["was_enabled"]:
                gc.enable()


def collect(session: AwsSession, region: str, needs: set[str] | None = None, plan: Any = None,
            identity: dict[str, str] | None = None, source: str = "aws") -> m.Inventory:
    """Read one region. `needs` are extra collector names wanted by the selected rules.

    When the plan pins VPCs (its `vpc`, or its `subnets`' VPCs) only their resources are read, with
    EC2 filters, plus the account-wide facts the rules still judge the plan by: every VPC (NET006),
    internet and egress-only gateway, peering (SG006), the groups the plan's rules reference, other
    VPCs' routes to the plan's gateways and to detached ones (NET003) and, for a compute plan,
    every instance (CMP001 counts the region's running vCPUs). The cost then follows the plan, not
    the account.
    """
    with gc_paused():
        return _collect(session, region, needs, plan, identity, source)


def _collect(session: AwsSession, region: str, needs: set[str] | None, plan: Any, identity: dict[str, str] | None,
             source: str) -> m.Inventory:
    check_region(session, region)
    page_size = getattr(session, "page_size", None)
    t0 = time.perf_counter()
    client = session.client("ec2", region)
    wanted_extras = list(extra_collectors(needs or ()))
    with ThreadPoolExecutor(max_workers=1 + len(wanted_extras)) as side:
        # The caller's identity is asked beside the reads, not before them (a round trip less);
        # when the credentials are missing or rejected, its one-line error is the one raised.
        who = side.submit(caller_identity, session, region) if identity is None else None
        extra_futures = {n: side.submit(_run_extra, session, region, plan, n) for n in wanted_extras}
        try:
            vpcs = plan_vpcs(session, client, region, plan)
            results, scope = _read(client, page_size, vpcs, plan)
            if vpcs and isinstance(results["vpcs"], list) and not {v.id for v in results["vpcs"]} & set(vpcs):
                # The plan's VPC is not in this region (a plan read against several regions): this
                # region is read whole, as without a plan.
                results, scope = _read(client, page_size, (), plan)
        except Exception:  # an interrupt (Ctrl-C, SIGTERM) is not replaced by the identity's error
            if who is not None:
                who.result()
            raise
        ident = identity or (who.result() if who is not None else {})
        extras = {n: f.result() for n, f in extra_futures.items()}
    session.stats.seconds[f"collect:{region}"] = time.perf_counter() - t0

    unreadable: list[m.Unreadable] = []
    for name, value in list(results.items()):
        if isinstance(value, m.Unreadable):
            unreadable.append(value)
            results[name] = []
    extra: dict[str, Any] = {"identity": {"arn": ident.get("arn", "")}}
    if scope:
        extra["scope"] = scope
    for name, value in extras.items():
        if isinstance(value, m.Unreadable):
            unreadable.append(value)
        else:
            extra[name] = value

    # Security groups: metadata from DescribeSecurityGroups, rules (one peer each, with ids)
    # from DescribeSecurityGroupRules. Either unreadable makes the groups unreadable.
    rules_by_group: dict[str, list[m.SecurityGroupRule]] = {}
    for r in results["security_group_rules"]:
        rules_by_group.setdefault(r.group_id, []).append(r)
    sgs = tuple(
        m.SecurityGroup(id=g["GroupId"], group_name=g.get("GroupName", ""), vpc_id=g.get("VpcId", ""),
                        owner_id=g.get("OwnerId", ""), description=g.get("Description", ""),
                        rules=tuple(rules_by_group.get(g["GroupId"], ())), tags=_tags(g))
        for g in results["security_groups"]
    )
    if any(u.resource_type == "security_group_rules" for u in unreadable):
        unreadable = [u if u.resource_type != "security_group_rules" else
                      m.Unreadable("security_groups", u.error_code, u.permission, u.message) for u in unreadable]
    instances = tuple(parse_instance(i) for res in results["instances"] for i in res.get("Instances") or [])

    return m.Inventory(
        cloud="aws",
        account=ident.get("account", ""),
        region=region,
        collected_at=dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
        source=source,
        vpcs=tuple(results["vpcs"]),
        subnets=tuple(results["subnets"]),
        route_tables=tuple(results["route_tables"]),
        internet_gateways=tuple(results["internet_gateways"]),
        egress_only_internet_gateways=tuple(results["egress_only_internet_gateways"]),
        nat_gateways=tuple(results["nat_gateways"]),
        network_acls=tuple(results["network_acls"]),
        security_groups=sgs,
        instances=instances,
        network_interfaces=tuple(results["network_interfaces"]),
        vpc_peering_connections=tuple(results["vpc_peering_connections"]),
        unreadable=tuple(sorted(set(unreadable), key=lambda u: u.resource_type)),
        extra=extra,
    )


def _run_extra(session: AwsSession, region: str, plan: Any, name: str) -> Any:
    try:
        return EXTRA_COLLECTORS[name](session, region, plan)
    except Denied as exc:
        return m.Unreadable(resource_type=name, error_code=exc.code, permission=exc.permission, message=exc.message)
    except botocore.exceptions.ClientError as exc:
        code = _error_code(exc)
        if code in CREDENTIAL_CODES:
            raise CredentialsError(f"AWS rejected the credentials ({code}): check --profile or refresh them") from None
        return m.Unreadable(resource_type=name, error_code=code or "Error", permission="",
                            message=str(exc.response.get("Error", {}).get("Message", ""))[:200])
