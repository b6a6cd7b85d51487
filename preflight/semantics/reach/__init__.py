"""Reachability: can a packet go from SRC to DST, and if not, which hop stops it and why.

One truth for `preflight path` and NET001 (whose per-subnet reasons come from `internet_blockers`).
Pure: reads an Inventory through `Topology` (routes), `nacl` (network ACLs) and `secgroups`
(security groups); never a cloud. Evaluation is linear in the size of the tables it touches.

The hops, in the order a packet meets them:

- internet -> IGW -> route back (the subnet's route for the source, longest prefix match, must
  lead to that IGW) -> public address -> subnet NACL inbound -> security group ingress -> ENI,
  then the reply through the subnet NACL outbound on ephemeral ports 1024-65535;
- ENI -> security group egress -> subnet NACL outbound -> route (longest prefix match) -> IGW
  (needs a public address) | egress-only IGW (IPv6 only, outbound only) | NAT gateway (whose
  own subnet must route to an attached IGW) -> internet, then the reply through the subnet NACL
  inbound on ephemeral ports;
- between two places in the account: security group egress, NACLs of both subnets (not within
  one subnet), the route (local, or an active peering connection both ways), security group
  ingress, and the return NACLs.

Every hop is evaluated even after one blocks (so `--all-blockers` can list them all); hops that
depend on a missing piece (the gateway behind a missing route) are skipped. A hop whose data
could not be read is `unknown`, never `ok`.

Stable codes (documented in README "Why can't I reach it?"):
NO_ROUTE_TO_DESTINATION, ROUTE_BLACKHOLE, IGW_NOT_ATTACHED, NO_PUBLIC_IP, NACL_DENY_INBOUND,
NACL_DENY_RETURN, NACL_DENY_OUTBOUND, SG_NO_INGRESS, SG_NO_EGRESS, and also:
NO_IPV6_ADDRESS (IPv6 path but the endpoint has no IPv6 address), EGRESS_ONLY_INBOUND (the
route back to an internet source goes to an egress-only IGW, which never admits inbound
connections), RETURN_ROUTE_NOT_IGW (the route back goes to a NAT gateway or another target that
is not an IGW), NAT_NOT_PUBLIC (a private NAT gateway cannot reach the internet),
INSTANCE_NOT_RUNNING, and for `unknown` hops ROUTE_TARGET_UNSUPPORTED (transit gateway, VPC
endpoint... not followed), NACL_NOT_FOUND and UNREADABLE.

The package: `model` (hops, ends, results, codes), `resolve` (SRC/DST text to an endpoint),
`walk` (the hops in order) and `remedies` (the fix on a blocking hop).
"""

from preflight.semantics.reach.model import CODES, EPHEMERAL, INTERNET, PROTOCOLS, SCHEMA, Endpoint, Hop, PathResult
from preflight.semantics.reach.walk import internet_blockers, internet_usable, path, path_in, path_validate

__all__ = ["CODES", "EPHEMERAL", "INTERNET", "PROTOCOLS", "SCHEMA", "Endpoint", "Hop", "PathResult",
           "internet_blockers", "internet_usable", "path", "path_in", "path_validate"]
