"""Ray scenario: an account where the launcher decides the verdict.

Ray sorts the usable subnets Z->A by zone and launches into the first one; it looks at
MapPublicIpOnLaunch but never at routes. Here a routed public subnet exists (so a launch "by
hand" into it works and preflight's generic NET001 is silent), but Ray's first pick, in
eu-south-1c, has no default route: Ray launches there and the cluster is unreachable.
Check it with `--plan examples/ray/cluster.yaml` (or `--launcher ray`).
"""

from __future__ import annotations

from preflight.collect.sandbox import Seeder, scenario


@scenario(
    "ray-unreachable-zone",
    "Ray's first pick (zone c, maps public IPs, no default route) is unreachable, while a routed public subnet in "
    "zone a exists; no default VPC",
    expect=("NET001", "NET002", "NET006"),
    plan={"launcher": "ray", "cluster": "demo"},
)
def ray_unreachable_zone(s: Seeder) -> None:
    s.delete_default_vpc()
    vpc = s.vpc("10.20.0.0/16", "ml-vpc")
    igw = s.igw(vpc, "ml-igw")
    routed = s.subnet(vpc, "10.20.1.0/24", az=f"{s.region}a", name="ml-public-a", public_ip=True)
    s.route(s.route_table(vpc, [routed], name="ml-public-rt"), "0.0.0.0/0", GatewayId=igw)
    unrouted = s.subnet(vpc, "10.20.3.0/24", az=f"{s.region}c", name="ml-public-c", public_ip=True)
    s.route_table(vpc, [unrouted], name="ml-c-rt")  # no 0.0.0.0/0 route: nothing reaches it
