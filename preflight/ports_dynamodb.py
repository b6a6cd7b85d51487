"""The DynamoDB port ledger: one table shared by every machine that launches (laptops, CI runners).

Why: the SQLite ledger is atomic on one machine only; two operators with two ledger files handed
out the same (host, port) again. Here every reservation is one item keyed by (host, port) and every
write is a *conditional* write, so DynamoDB itself decides who gets a port:

- reserve: PutItem if the item does not exist, or its lease has expired; both in the same
  ConditionExpression, so there is no read-then-write window. A ConditionalCheckFailedException
  means "taken": the allocator tries the next port.
- release: DeleteItem on condition that the owner is the caller (never someone else's port).
- renew / activate: UpdateItem on condition of owner, state and a live lease.
- gc: DeleteItem on condition that the lease is still expired when the delete lands (a port that
  was reclaimed and reserved again in between is left alone).
- Leases carry `expires_at` (seconds since the epoch, the authority for every condition) and `ttl`
  (whole seconds, DynamoDB's TTL attribute) so that DynamoDB eventually deletes zombies nobody
  collects. TTL deletion is lazy (typically within days), so conditions never rely on it.

Reads (which ports look free, what an owner holds) are strongly consistent queries; they only
choose which ports to try, never decide ownership. Throttling is retried by botocore's adaptive
retry mode (the same client configuration as every preflight call); what is left after that is a
one-line PortsError. Lease times are the callers' clocks: keep machines NTP-synced (a lease is
minutes, skew is milliseconds).

Table: partition key `host` (S), sort key `port` (N), on-demand billing, TTL on `ttl`
(`preflight ports init`).
"""

from __future__ import annotations

import builtins
import math
import os
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from preflight.ports import (
    DEFAULT_LEASE_SECONDS,
    Ledger,
    LedgerUrl,
    PortsError,
    Reservation,
    _check_range,
    _validate_request,
    candidate_ports,
    exhausted,
)

TTL_ATTRIBUTE = "ttl"
OPTIMISTIC_EXTRA = 2  # blind conditional puts beyond `count` before reading which ports are held
KEY_SCHEMA = [{"AttributeName": "host", "KeyType": "HASH"}, {"AttributeName": "port", "KeyType": "RANGE"}]
ATTRIBUTES = [{"AttributeName": "host", "AttributeType": "S"}, {"AttributeName": "port", "AttributeType": "N"}]
# Every attribute goes through a name placeholder: OWNER, STATE, PORT and TTL are DynamoDB
# reserved words (or may become so), and one mapping keeps the expressions readable.
NAMES = {"#h": "host", "#p": "port", "#o": "owner", "#s": "state", "#e": "expires_at", "#t": TTL_ATTRIBUTE,
         "#k": "token"}

# What the ledger calls; the catalogue's `ports-ledger` capability (preflight/data/permissions.yaml,
# read by `preflight iam-policy`) lists the same actions, and a test keeps the two equal.
PERMISSIONS = ("dynamodb:DescribeTable", "dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:DeleteItem",
               "dynamodb:UpdateItem", "dynamodb:Query", "dynamodb:Scan")
INIT_PERMISSIONS = ("dynamodb:CreateTable", "dynamodb:UpdateTimeToLive", "dynamodb:DescribeTimeToLive")


def _n(value: float | int) -> dict[str, str]:
    return {"N": repr(value) if isinstance(value, float) else str(value)}


def _reservation(item: dict[str, Any]) -> Reservation:
    def num(name: str, default: float = 0.0) -> float:
        return float(item[name]["N"]) if name in item else default

    return Reservation(host=item["host"]["S"], port=int(item["port"]["N"]), owner=item.get("owner", {}).get("S", ""),
                       state=item.get("state", {}).get("S", "reserved"), service=item.get("service", {}).get("S", ""),
                       pid=int(num("pid")), created_at=num("created_at"),
                       expires_at=float(item["expires_at"]["N"]) if "expires_at" in item else None)


def _code(exc: Exception) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", "") or type(exc).__name__)


class DynamoLedger(Ledger):
    """The port ledger in a DynamoDB table. One object per process (or thread pool); the boto3
    client it uses is thread-safe."""

    def __init__(self, url: LedgerUrl, session: Any = None, *, lease_seconds: float = DEFAULT_LEASE_SECONDS,
                 clock: Callable[[], float] = time.time, create: bool = False) -> None:
        if session is None:
            from preflight.collect.aws import AwsSession

            session = AwsSession()
        region = url.region or session.session.region_name or os.environ.get("AWS_REGION") \
            or os.environ.get("AWS_DEFAULT_REGION") or ""
        if not region:
            raise PortsError(f"{url.origin}: the DynamoDB ledger needs a region: "
                             f"dynamodb://{url.table}?region=REGION (or AWS_REGION)")
        self.table = url.table
        self.region = region
        self.url = f"dynamodb://{self.table}?region={region}"
        self.lease_seconds = float(lease_seconds)
        self.clock = clock
        self._session = session
        self._client = session.client("dynamodb", region)
        self._checked = False
        if create:
            self.init()

    # --- errors ---------------------------------------------------------------------------------

    def _fail(self, exc: Exception, action: str) -> PortsError:
        """Every failure of the table as one line: missing table, denied, unreachable, throttled."""
        import botocore.exceptions

        code = _code(exc)
        where = f"the DynamoDB port ledger {self.table} in {self.region}"
        if code == "ResourceNotFoundException":
            return PortsError(f"{where} does not exist: create it with "
                              f"`preflight ports init --ledger {self.url}`")
        if code in ("AccessDeniedException", "AccessDenied", "UnrecognizedClientException"):
            return PortsError(f"{where}: {action} was denied ({code}); grant {action} on the table "
                              f"(`preflight iam-policy` lists what the ledger needs)")
        if code in ("ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"):
            return PortsError(f"{where} is throttling {action} ({code}) beyond botocore's retries; retry later")
        if isinstance(exc, (botocore.exceptions.NoCredentialsError, botocore.exceptions.PartialCredentialsError)):
            return PortsError(f"{where}: no AWS credentials for {action} (the ledger uses the same credential "
                              "chain as the rest of preflight: --profile, AWS_PROFILE, environment)")
        if isinstance(exc, botocore.exceptions.BotoCoreError):
            return PortsError(f"cannot reach {where} ({action}): {type(exc).__name__}")
        return PortsError(f"{where}: {action} failed: {code}")

    def _call(self, op: str, **params: Any) -> Any:
        import botocore.exceptions

        try:
            return getattr(self._client, op)(TableName=self.table, **params)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            raise self._fail(exc, f"dynamodb:{_op_action(op)}") from None

    def _conditional(self, op: str, **params: Any) -> bool:
        """A conditional write: True if it happened, False if the condition did not hold."""
        import botocore.exceptions

        try:
            getattr(self._client, op)(TableName=self.table, ExpressionAttributeNames=_names(params), **params)
            return True
        except botocore.exceptions.ClientError as exc:
            if _code(exc) == "ConditionalCheckFailedException":
                return False
            raise self._fail(exc, f"dynamodb:{_op_action(op)}") from None
        except botocore.exceptions.BotoCoreError as exc:
            raise self._fail(exc, f"dynamodb:{_op_action(op)}") from None

    # --- table ----------------------------------------------------------------------------------

    def check(self, wait: float | None = None) -> None:
        """The table exists, is a port ledger, and answers (DescribeTable). No lock to wait for."""
        desc = self._call("describe_table")["Table"]
        keys = sorted((k["AttributeName"], k["KeyType"]) for k in desc.get("KeySchema", []))
        if keys != sorted((k["AttributeName"], k["KeyType"]) for k in KEY_SCHEMA):
            raise PortsError(f"DynamoDB table {self.table} in {self.region} is not a preflight port ledger "
                             f"(its key is {', '.join(f'{n} ({t})' for n, t in keys)}, not host (HASH) + "
                             "port (RANGE)); name another table")
        self._checked = True

    def init(self) -> list[str]:
        """Create the table (on-demand, host + port key) and turn TTL on; say what was done.
        Idempotent: an existing ledger table is checked and its TTL turned on if it was off."""
        import botocore.exceptions

        lines = []
        try:
            self._client.create_table(TableName=self.table, KeySchema=KEY_SCHEMA, AttributeDefinitions=ATTRIBUTES,
                                      BillingMode="PAY_PER_REQUEST",
                                      Tags=[{"Key": "preflight:purpose", "Value": "port-ledger"}])
            lines.append(f"created DynamoDB table {self.table} in {self.region}: on-demand billing, "
                         "key host (string) + port (number)")
        except botocore.exceptions.ClientError as exc:
            if _code(exc) != "ResourceInUseException":
                raise self._fail(exc, "dynamodb:CreateTable") from None
            lines.append(f"DynamoDB table {self.table} in {self.region} already exists")
        except botocore.exceptions.BotoCoreError as exc:
            raise self._fail(exc, "dynamodb:CreateTable") from None
        try:
            self._client.get_waiter("table_exists").wait(TableName=self.table,
                                                         WaiterConfig={"Delay": 2, "MaxAttempts": 60})
        except botocore.exceptions.WaiterError:
            raise PortsError(f"DynamoDB table {self.table} in {self.region} did not become ACTIVE in 2 minutes; "
                             "run `preflight ports init` again") from None
        self.check()
        ttl = self._call("describe_time_to_live").get("TimeToLiveDescription", {})
        if ttl.get("TimeToLiveStatus") in ("ENABLED", "ENABLING") and ttl.get("AttributeName") == TTL_ATTRIBUTE:
            lines.append(f"TTL already enabled on attribute {TTL_ATTRIBUTE}")
        else:
            self._call("update_time_to_live",
                       TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE})
            lines.append(f"TTL enabled on attribute {TTL_ATTRIBUTE} (DynamoDB deletes expired leases nobody "
                         "collected; `preflight ports gc` does it at once)")
        return lines

    # --- reads ----------------------------------------------------------------------------------

    def _items(self, host: str | None = None) -> Iterator[dict[str, Any]]:
        """Every item (of one host): strongly consistent, all pages."""
        params: dict[str, Any] = {"ConsistentRead": True}
        op = "scan"
        if host is not None:
            op = "query"
            params.update(KeyConditionExpression="#h = :h", ExpressionAttributeValues={":h": {"S": host}},
                          ExpressionAttributeNames={"#h": "host"})
        while True:
            page = self._call(op, **params)
            yield from page.get("Items", [])
            if not page.get("LastEvaluatedKey"):
                return
            params["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def list(self, *, host: str | None = None, owner: str | None = None,
             include_expired: bool = True) -> builtins.list[Reservation]:
        now = self.clock()
        rows = [_reservation(i) for i in self._items(host)]
        rows = [r for r in rows if (owner is None or r.owner == owner) and (include_expired or r.is_live(now))]
        return sorted(rows, key=lambda r: (r.host, r.port))

    # --- writes ---------------------------------------------------------------------------------

    def _put(self, host: str, port: int, owner: str, state: str, service: str, expires: float | None,
             token: str) -> bool:
        """Take (host, port) if nobody holds it, or its holder's lease has expired: one condition."""
        now = self.clock()
        item: dict[str, Any] = {"host": {"S": host}, "port": _n(port), "owner": {"S": owner}, "state": {"S": state},
                                "service": {"S": service}, "pid": _n(os.getpid()), "created_at": _n(now),
                                "token": {"S": token}}
        if expires is not None:
            item["expires_at"] = _n(expires)
            item[TTL_ATTRIBUTE] = _n(math.ceil(expires))
        import botocore.exceptions

        params: dict[str, Any] = {
            "Item": item, "ConditionExpression": "attribute_not_exists(#p) OR (attribute_exists(#e) AND #e <= :now)",
            "ExpressionAttributeValues": {":now": _n(now)}}
        try:
            self._client.put_item(TableName=self.table, ExpressionAttributeNames=_names(params), **params)
            return True
        except botocore.exceptions.ClientError as exc:
            if _code(exc) != "ConditionalCheckFailedException":
                raise self._fail(exc, "dynamodb:PutItem") from None
            # A retried put (throttled, timed out) whose first attempt landed finds its own item:
            # recognise it by the token, or the port would be held by us and used by nobody.
            if exc.response.get("ResponseMetadata", {}).get("RetryAttempts"):
                return self._holds(host, port, token)
            return False
        except botocore.exceptions.BotoCoreError as exc:
            raise self._fail(exc, "dynamodb:PutItem") from None

    def _holds(self, host: str, port: int, token: str) -> bool:
        got = self._call("get_item", Key=self._key(host, port), ConsistentRead=True).get("Item") or {}
        return got.get("token", {}).get("S") == token

    def _key(self, host: str, port: int) -> dict[str, Any]:
        return {"host": {"S": host}, "port": _n(port)}

    def allocate_many(self, host: str, owner: str, port_range: tuple[int, int], count: int, *,
                      prefer: int | None = None, service: str = "", lease: float | None = None,
                      state: str = "reserved") -> builtins.list[int]:
        """Reserve `count` distinct ports on `host`: all of them or none.

        The conditional put is the only thing that decides. The first few candidates are simply
        tried (one write each: the common, uncontended case costs one call per port); if that is not
        enough, one consistent query says which ports look held, and the rest of the range is
        tried skipping those. If fewer than `count` could be taken, the ones taken are released
        again (by their token, so never anyone else's)."""
        _validate_request(host, owner, state)
        if count < 1:
            return []
        lo, hi = _check_range(port_range)
        token = uuid.uuid4().hex
        expires = self._expiry(lease, state)
        candidates = candidate_ports(lo, hi, prefer)
        blind = count + OPTIMISTIC_EXTRA
        chosen: builtins.list[int] = []
        try:
            for port in candidates[:blind]:
                if len(chosen) < count and self._put(host, port, owner, state, service, expires, token):
                    chosen.append(port)
            if len(chosen) < count:
                held = self._held(host, lo, hi)
                for port in candidates[blind:]:
                    if len(chosen) == count:
                        break
                    if port not in held and self._put(host, port, owner, state, service, expires, token):
                        chosen.append(port)
            if len(chosen) < count:
                raise exhausted(lo, hi, host, len(chosen), count, hi - lo + 1 - len(chosen))
        except BaseException:
            for port in chosen:
                self._conditional("delete_item", Key=self._key(host, port), ConditionExpression="#k = :k",
                                  ExpressionAttributeValues={":k": {"S": token}})
            raise
        return chosen

    def _held(self, host: str, lo: int, hi: int) -> set[int]:
        """Ports of `host` in lo..hi under a live lease now (a hint for which ports to try)."""
        now = self.clock()
        params: dict[str, Any] = {
            "ConsistentRead": True, "KeyConditionExpression": "#h = :h AND #p BETWEEN :lo AND :hi",
            "ProjectionExpression": "#p, #e", "ExpressionAttributeNames": {"#h": "host", "#p": "port",
                                                                           "#e": "expires_at"},
            "ExpressionAttributeValues": {":h": {"S": host}, ":lo": _n(lo), ":hi": _n(hi)}}
        held: set[int] = set()
        while True:
            page = self._call("query", **params)
            held.update(int(i["port"]["N"]) for i in page.get("Items", [])
                        if "expires_at" not in i or float(i["expires_at"]["N"]) > now)
            if not page.get("LastEvaluatedKey"):
                return held
            params["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def reserve(self, host: str, port: int, owner: str, *, service: str = "", lease: float | None = None,
                state: str = "reserved") -> bool:
        _validate_request(host, owner, state)
        return self._put(host, port, owner, state, service, self._expiry(lease, state), uuid.uuid4().hex)

    def release(self, host: str, port: int, owner: str | None = None) -> bool:
        if owner is None:
            return self._conditional("delete_item", Key=self._key(host, port),
                                     ConditionExpression="attribute_exists(#p)")
        return self._conditional("delete_item", Key=self._key(host, port), ConditionExpression="#o = :o",
                                 ExpressionAttributeValues={":o": {"S": owner}})

    def release_owner(self, owner: str, host: str | None = None) -> int:
        mine = [r for r in map(_reservation, self._items(host)) if r.owner == owner]
        return sum(self.release(r.host, r.port, owner) for r in mine)

    def renew(self, owner: str, lease: float | None = None) -> int:
        now = self.clock()
        expires = self._expiry(lease, "reserved")
        assert expires is not None
        mine = [r for r in map(_reservation, self._items()) if r.owner == owner and r.state == "reserved"
                and r.is_live(now)]
        return sum(self._conditional(
            "update_item", Key=self._key(r.host, r.port), UpdateExpression="SET #e = :e, #t = :t",
            ConditionExpression="#o = :o AND #s = :reserved AND #e > :now",
            ExpressionAttributeValues={":e": _n(expires), ":t": _n(math.ceil(expires)), ":o": {"S": owner},
                                       ":reserved": {"S": "reserved"}, ":now": _n(now)}) for r in mine)

    def activate(self, owner: str) -> int:
        now = self.clock()
        mine = [r for r in map(_reservation, self._items()) if r.owner == owner and r.is_live(now)]
        return sum(self._conditional(
            "update_item", Key=self._key(r.host, r.port), UpdateExpression="SET #s = :active REMOVE #e, #t",
            ConditionExpression="#o = :o AND (attribute_not_exists(#e) OR #e > :now)",
            ExpressionAttributeValues={":active": {"S": "active"}, ":o": {"S": owner}, ":now": _n(now)})
            for r in mine)

    def gc(self) -> builtins.list[Reservation]:
        now = self.clock()
        expired = [r for r in map(_reservation, self._items()) if not r.is_live(now)]
        return [r for r in expired if self._conditional(
            "delete_item", Key=self._key(r.host, r.port), ConditionExpression="#e <= :now",
            ExpressionAttributeValues={":now": _n(now)})]


def _names(params: dict[str, Any]) -> dict[str, str]:
    """The placeholders an expression uses, and only those (DynamoDB rejects unused names)."""
    text = " ".join(str(params.get(k, "")) for k in ("ConditionExpression", "UpdateExpression"))
    return {k: v for k, v in NAMES.items() if k in text}


def _op_action(op: str) -> str:
    return "".join(part.capitalize() for part in op.split("_"))
