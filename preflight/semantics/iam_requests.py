"""The authorization requests AWS will make for a launch, built from the plan.

One launcher call is often several IAM requests: RunInstances is authorized once per resource it
touches (the instance, the image, the subnet, each security group, the network interface, the
volume, the key pair), and each request carries the condition keys AWS documents for that action
and resource type (Service Authorization Reference, `preflight.sar`). What the plan fixes — the
region, instance type, VPC, subnet, image, instance profile, the tags the launcher sets — fills
the ARNs and the request context; what it does not fix stays unknown: an id becomes a wildcard
(`instance/i-*`), a key the request will carry but whose value the plan does not fix is left out
of the context and the evaluator answers UNKNOWN naming it, and a key AWS does not put in this
request is known to be absent (so `StringLike ec2:InstanceType` on the subnet request fails, as
it does in AWS). Pure: no cloud calls.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from preflight.sar import ActionInfo, Sar
from preflight.semantics.iam import Request

# Prefixes AWS gives every id of a kind: an id not known yet is still `ami-…`, `i-…`.
ID_PREFIX = {"ImageId": "ami-", "InstanceId": "i-", "SubnetId": "subnet-", "SecurityGroupId": "sg-",
             "NetworkInterfaceId": "eni-", "VolumeId": "vol-", "VpcId": "vpc-"}
# Resource types a request carries beyond the ones the reference marks required, when the plan
# implies them: EBS-backed instances get a root volume; a key name adds the key pair.
IMPLIED = {"ec2:RunInstances": (("volume", "always"), ("key-pair", "key_name"))}


@dataclass(frozen=True)
class LaunchFacts:
    """What the plan (and the account, when read) fixes about the launch's requests."""

    region: str
    account: str
    partition: str = "aws"
    principal: str = ""
    instance_type: str = ""
    image: str = ""
    vpc: str = ""
    subnets: tuple[str, ...] = ()
    security_groups: tuple[str, ...] = ()  # ids; empty: a group the launcher creates
    key_name: str = ""
    instance_profile: str = ""  # name
    role: str = ""  # the role in the instance profile
    zone: str = ""
    spot: bool = False
    tags: Mapping[str, str | None] | None = None  # tag key -> value (None: value not known); None: unknown
    buckets: tuple[str, ...] = ()
    uses: frozenset[str] = field(default_factory=frozenset)  # buckets, creates_buckets, instance_profile, …

    def arn(self, service: str, rest: str, region: bool = True, account: bool = True) -> str:
        reg, acct = self.region if region else "", self.account if account else ""
        return f"arn:{self.partition}:{service}:{reg}:{acct}:{rest}"


def _fill(template: str, facts: LaunchFacts, rtype: str) -> list[str]:
    """Every ARN the resource type stands for in this launch (`*` for unknown parts)."""
    values: dict[str, list[str]] = {
        "Partition": [facts.partition], "Region": [facts.region or "*"], "Account": [facts.account or "*"],
        "ImageId": [facts.image] if facts.image else [],
        "SubnetId": list(facts.subnets),
        "SecurityGroupId": list(facts.security_groups),
        "VpcId": [facts.vpc] if facts.vpc else [],
        "KeyPairName": [facts.key_name] if facts.key_name else [],
        "RoleNameWithPath": [facts.role] if facts.role else [],
        "InstanceProfileNameWithPath": [facts.instance_profile] if facts.instance_profile else [],
        "BucketName": list(facts.buckets),
    }
    out = [template]
    for var in re.findall(r"\$\{(\w+)\}", template):
        vals = values.get(var) or [ID_PREFIX.get(var, "") + "*"]
        out = [t.replace("${" + var + "}", v, 1) for t in out for v in vals]
    return out


def _own(action: ActionInfo, rtype: str) -> bool:
    """Is the resource one the launcher made (its tags are the launcher's), not a new one or the
    account's (a subnet's or image's tags are not known here)?"""
    return rtype in ("instance", "volume") and action.name.lower() != "ec2:runinstances"


def _expand_tag_keys(keys: frozenset[str], facts: LaunchFacts, own: bool) -> frozenset[str]:
    """With the launcher's tags known, `aws:RequestTag/${TagKey}` and, on the launcher's own
    instances, `aws:ResourceTag/${TagKey}` become those concrete keys: any other tag key is absent
    from the request."""
    if facts.tags is None:
        return keys
    out = set()
    for k in keys:
        if k.endswith("Tag/${TagKey}") and ("RequestTag" in k or own):
            prefix = k[: -len("${TagKey}")]
            out |= {prefix + t for t in facts.tags}
        else:
            out.add(k)
    return frozenset(out)


def _context(keys: frozenset[str], facts: LaunchFacts, rtype: str, arn: str, action: ActionInfo,
             create_action: str) -> dict[str, Any]:
    """The values the plan fixes, for the keys this request carries. A value of None means "the
    request carries no such key" (decided), e.g. no instance profile, no launch template."""
    ctx: dict[str, Any] = {"aws:RequestedRegion": facts.region}
    if facts.principal:
        ctx["aws:PrincipalArn"] = facts.principal
    if facts.account:
        ctx["aws:PrincipalAccount"] = facts.account
    lower = {k.lower(): k for k in keys}

    def put(key: str, value: Any) -> None:
        if key.lower() in lower:
            ctx[lower[key.lower()]] = value

    put("ec2:Region", facts.region)
    if facts.instance_type:
        put("ec2:InstanceType", facts.instance_type)
    if facts.vpc:
        put("ec2:Vpc", facts.arn("ec2", f"vpc/{facts.vpc}"))
        put("ec2:VpcID", facts.vpc)
    if len(facts.subnets) == 1:
        put("ec2:Subnet", facts.arn("ec2", f"subnet/{facts.subnets[0]}"))
    if rtype == "subnet" and "*" not in arn:
        put("ec2:SubnetID", arn.rsplit("/", 1)[-1])
    if rtype == "security-group" and "*" not in arn:
        put("ec2:SecurityGroupID", arn.rsplit("/", 1)[-1])
    if facts.image:
        put("ec2:ImageID", facts.image)
    if facts.key_name:
        put("ec2:KeyPairName", facts.key_name)
    if facts.zone:
        put("ec2:AvailabilityZone", facts.zone)
    put("ec2:InstanceProfile", facts.arn("iam", f"instance-profile/{facts.instance_profile}", region=False)
        if facts.instance_profile else None)
    put("ec2:InstanceMarketType", "spot" if facts.spot else "on-demand")
    put("ec2:Tenancy", "default")
    put("ec2:LaunchTemplate", None)  # launchers here pass parameters, never a launch template
    put("ec2:IsLaunchTemplateResource", "false")
    put("ec2:PlacementGroup", None)
    put("ec2:CreateAction", create_action or None)
    if action.service == "iam" and action.name.lower() == "iam:passrole":
        put("iam:PassedToService", "ec2.amazonaws.com")
    if facts.tags is not None:
        tag_keys = [t for t in facts.tags]
        put("aws:TagKeys", tag_keys)
        prefixes = ("aws:RequestTag/", "aws:ResourceTag/", "ec2:ResourceTag/") if _own(action, rtype) \
            else ("aws:RequestTag/",)
        for t, v in facts.tags.items():
            for prefix in prefixes:
                if v is not None:
                    put(prefix + t, v)
    return ctx


def resource_types(action: ActionInfo, wanted: Sequence[str] | None, facts: LaunchFacts) -> list[str]:
    if wanted is not None:
        return list(wanted)
    types = list(action.required)
    for rtype, cond in IMPLIED.get(action.name, ()):
        if rtype not in types and action.resource(rtype) and (cond == "always" or getattr(facts, cond, None)):
            types.append(rtype)
    return types


def build_requests(action_name: str, facts: LaunchFacts, sar: Sar, resources: Sequence[str] | None = None,
                   create_action: str = "") -> list[Request]:
    """The requests AWS makes to authorize one call of `action_name` in this launch. An action the
    reference does not list gets one legacy request (ARN and keys unknown)."""
    action = sar.action(action_name)
    if action is None:
        return [Request(action_name, region=facts.region, account=facts.account,
                        context={"aws:RequestedRegion": facts.region} if facts.region else {})]
    types = resource_types(action, resources, facts)
    if not types and action.resources:
        # Resource types exist but none is required (CreateTags: ~150 taggable types) and the
        # caller named none: which one is touched is not known, so nothing is known.
        return [Request(action.name, region=facts.region, account=facts.account,
                        context={"aws:RequestedRegion": facts.region} if facts.region else {})]
    if not types:  # no resource-level permissions: AWS authorizes against "*"
        keys = _expand_tag_keys(action.condition_keys, facts, own=False)
        ctx = _context(keys, facts, "", "*", action, create_action)
        return [Request(action.name, "*", facts.region, facts.account, ctx, resource_type="", keys=keys)]
    out: list[Request] = []
    for rtype in types:
        ref = action.resource(rtype)
        rdef = sar.resource_type(action.service, rtype)
        if ref is None or rdef is None:
            raise ValueError(f"{action.name} is not authorized against resource type {rtype!r} "
                             f"(Service Authorization Reference)")
        # The keys of this request: the action's own, those the reference lists for this action and
        # resource type, and the region key of the type (the reference lists ec2:Region per type).
        keys = action.condition_keys | ref.condition_keys | {k for k in rdef.condition_keys if k.endswith(":Region")}
        keys = _expand_tag_keys(frozenset(keys), facts, own=_own(action, rtype))
        for arn in _fill(rdef.arn, facts, rtype):
            ctx = _context(keys, facts, rtype, arn, action, create_action)
            out.append(Request(action.name, arn, facts.region, facts.account, ctx, resource_type=rtype, keys=keys))
    return out
