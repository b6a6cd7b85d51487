"""Compute scenarios: one fault per CMP rule, for `preflight check --sandbox compute-blockers`.

moto serves EC2 (instance types, offerings, images, key pairs, dry runs) and IAM (instance
profiles) for real. It does not serve Service Quotas usefully: moto 5.2 implements neither
ListServiceQuotas nor, in most regions (eu-south-1 included), GetServiceQuota. So the sandbox
*seeds quota values* through one small, documented hook, `serve_quotas()`: it answers
ListServiceQuotas on the sandbox's own service-quotas client through botocore's `before-call`
event (as botocore's Stubber does). The collector's call, pagination and parsing run unchanged;
only the HTTP round trip is replaced, and only inside the sandbox. Against a moto *server*
(`--endpoint-url`) no hook is installed and the quota rule reports UNKNOWN, as it would for an
account that may not read Service Quotas.

The dry run (CMP006) is answered by moto itself. moto validates only the instance profile
before honouring DryRun, so in this scenario the dry run fails on the same missing profile that
CMP005 reports (moto's code is NoSuchEntity; AWS says InvalidParameterValue). Against AWS the dry
run also catches permission, SCP and parameter faults the read-only rules cannot see.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.awsrequest import AWSResponse

from preflight.collect.sandbox import Seeder, scenario
from preflight.semantics.quotas import FAMILIES

COMPUTE_PLAN: dict[str, Any] = {
    "region": "eu-south-1",
    "instance_type": "g4dn.xlarge",  # G and VT family: 4 vCPUs, not offered in eu-south-1a
    "count": 2,
    "zones": ["eu-south-1a"],
    "image": "ami-0abcdef1234567890",  # does not exist in the sandbox region
    "key_name": "compute-key",  # the account has only other-key
    "instance_profile": "compute-profile",  # never created
}

# Applied vCPU quotas the scenario seeds (code -> vCPUs). G and VT is 8: one g4dn.xlarge (4)
# already runs, the plan asks for 2 × 4 = 8 more, 12 > 8.
COMPUTE_QUOTAS = {"L-1216C47A": 32, "L-DB2E81BA": 8, "L-417A185B": 0, "L-34B43A08": 32, "L-3819A6DF": 8}


def _quota_names() -> dict[str, str]:
    names = {}
    for fam in FAMILIES.values():
        for ref in (fam.on_demand, fam.spot):
            if ref is not None:
                names[ref.code] = ref.name
    return names


def serve_quotas(seeder: Seeder, values: Mapping[str, float]) -> None:
    """Sandbox hook: answer ListServiceQuotas (ServiceCode ec2) with `values` in the seeder's region.

    Registers on the sandbox session's own (cached) service-quotas client, so the collector that
    reads the sandbox gets these values and nothing outside the sandbox is affected.
    """
    names = _quota_names()
    quotas = [{"ServiceCode": "ec2", "ServiceName": "Amazon Elastic Compute Cloud (Amazon EC2)",
               "QuotaCode": code, "QuotaName": names.get(code, code), "Value": float(value), "Unit": "None",
               "Adjustable": True, "GlobalQuota": False,
               "QuotaArn": f"arn:aws:servicequotas:{seeder.region}:123456789012:ec2/{code}"}
              for code, value in sorted(values.items())]

    def answer(model: Any = None, params: Any = None, **_: Any) -> Any:
        if model is None or model.name != "ListServiceQuotas":
            return None
        body = (params or {}).get("body") or {}
        if isinstance(body, (bytes, str)):
            import json

            body = json.loads(body or b"{}")
        page = quotas if body.get("ServiceCode") == "ec2" else []
        http = AWSResponse(f"https://servicequotas.{seeder.region}.amazonaws.com/", 200, {}, None)
        return http, {"Quotas": page, "ResponseMetadata": {"HTTPStatusCode": 200, "RequestId": "sandbox-quotas"}}

    client = seeder.session.client("service-quotas", seeder.region)
    client.meta.events.unregister("before-call", unique_id="preflight-sandbox-quotas")  # re-seeding replaces
    client.meta.events.register("before-call", answer, unique_id="preflight-sandbox-quotas")


# Images moto 5 ships in every region; looked up by id (fast) before a full search (slow in moto).
KNOWN_MOTO_IMAGES = {"x86_64": "ami-03cf127a", "arm64": "ami-0e9271c829888680e"}


def amazon_image(seeder: Seeder, architecture: str = "x86_64") -> str:
    """An image moto ships in every region (for instances that are already running)."""
    known = KNOWN_MOTO_IMAGES.get(architecture)
    if known:
        try:
            found = seeder.ec2.describe_images(ImageIds=[known])["Images"]
            if found and found[0].get("Architecture") == architecture:
                return known
        except Exception:  # noqa: BLE001 - another moto version: fall back to searching
            pass
    images = seeder.ec2.describe_images(Owners=["amazon"], Filters=[
        {"Name": "architecture", "Values": [architecture]}, {"Name": "state", "Values": ["available"]}])["Images"]
    return sorted(i["ImageId"] for i in images)[0]


@scenario(
    "compute-blockers",
    "A healthy network, but the plan's launch would fail five ways: G and VT vCPU quota exceeded, g4dn.xlarge "
    "not offered in eu-south-1a, image missing, key pair missing, instance profile missing (and so the dry run "
    "fails). Check it with --plan examples/compute-blockers.yaml --dry-run-launch",
    expect=("CMP001", "CMP002", "CMP003", "CMP004", "CMP005", "CMP006"),
    plan=COMPUTE_PLAN,
    amis=True,
)
def compute_blockers(s: Seeder) -> None:
    s.aws_like_default_vpc()
    serve_quotas(s, COMPUTE_QUOTAS)
    ami = amazon_image(s)
    # Already running: one G-family instance (counts against L-DB2E81BA) and two standard ones
    # (they do not: another quota family).
    s.ec2.run_instances(ImageId=ami, InstanceType="g4dn.xlarge", MinCount=1, MaxCount=1,
                        Placement={"AvailabilityZone": f"{s.region}b"},
                        TagSpecifications=[{"ResourceType": "instance",
                                            "Tags": [{"Key": "Name", "Value": "gpu-worker"}]}])
    s.ec2.run_instances(ImageId=ami, InstanceType="m5.large", MinCount=2, MaxCount=2,
                        Placement={"AvailabilityZone": f"{s.region}a"})
    # Near misses: a key pair and an instance profile (with a role) exist, under other names.
    s.ec2.create_key_pair(KeyName="other-key")
    iam = s.session.client("iam", s.region)
    iam.create_role(RoleName="other-role", AssumeRolePolicyDocument=(
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},'
        '"Action":"sts:AssumeRole"}]}'))
    iam.create_instance_profile(InstanceProfileName="other-profile")
    iam.add_role_to_instance_profile(InstanceProfileName="other-profile", RoleName="other-role")

