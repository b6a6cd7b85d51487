"""The preflight benchmark: one command, real numbers.

    python bench/run.py                 # everything below; prints every issue-17 ratio next to its target
    python bench/run.py --quick         # a few minutes: size S only (no L, no M ratios)
    python bench/run.py --sizes S --no-moto --markdown bench/RESULTS.md

For each size it generates the synthetic snapshot once (bench/generate.py, cached in bench/.data/,
which is not committed: CI regenerates it), then in fresh processes measures: plain `json.load` of
the file (the floor, with its peak RSS), and preflight's own path — snapshot load, all rules
(`engine.run`, every registered rule, no plan; the graph is built only if a rule reads it) — with
peak RSS; then precision and recall of the findings against the planted faults.

The collection benchmark starts a moto server on 127.0.0.1, seeds it with the size-S account
(5 VPCs, 100 subnets, 20 route tables, 500 groups, 5,000 rules, 250 instances), and times, each in
a fresh process: the bare floor (one call of each Describe preflight uses, nothing else) and
`preflight check --select NET006 --stats` (preflight's collector and one trivial rule), with the API calls it made.

The latency benchmark (issue 17) puts `LatencyMoto` in front of moto: every request waits `--delay`
seconds (0.1) and every paginated Describe is cut at the MaxResults asked, with a token, as EC2
does (moto answers most Describes whole). Sizes S and M (1,000 subnets, 2,000 groups, 20,000
rules) are seeded straight into moto's backend; moto computes each distinct answer once in an
untimed warm-up run and the timed runs replay it, so that the client's round trips are measured,
not moto's own CPU. Reported: each Describe's paginated chain alone (plain boto3, real maximum page
sizes), the longest one sharded by group-id filters, the account-wide check, a check whose plan
pins one VPC, API calls of each, and the scoped findings against the account-wide ones.

Start-up (bench/startup.py): `preflight --version` against `python -I -c pass`, and the S offline
check against `json.load(S)` plus `--version`, as fresh processes, interleaved, median of
`--startup-runs`.

Wall-clock times depend on what else runs on the machine; CPU times (user+sys of the measuring
process) are reported beside them because they do not.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = HERE / ".data"
sys.path.insert(0, str(ROOT))

REGION = "eu-south-1"
DESCRIBES = (  # what a bare collector calls once each: the operations preflight's collector uses
    "describe_vpcs", "describe_subnets", "describe_route_tables", "describe_internet_gateways",
    "describe_egress_only_internet_gateways", "describe_nat_gateways", "describe_network_acls",
    "describe_security_groups", "describe_security_group_rules", "describe_instances",
    "describe_network_interfaces", "describe_vpc_peering_connections",
)


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def peak_rss_mib() -> float:
    """This process's peak RSS. Linux's VmHWM belongs to the process's own memory map, new at exec;
    ru_maxrss instead survives exec, so a child would report its parent's peak (the parent that
    generated L.json in process made every child look 475 MiB)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # KiB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


# --- children: each measurement runs in a fresh interpreter ------------------------------------

def child_json(path: str) -> dict[str, Any]:
    w, c = time.perf_counter(), cpu()
    with open(path) as fh:
        json.load(fh)
    return {"wall": time.perf_counter() - w, "cpu": cpu() - c, "rss_mib": peak_rss_mib()}


def child_check(path: str, expected_path: str) -> dict[str, Any]:
    from preflight import engine
    from preflight.inventory import snapshot

    rules = engine.select_rules(engine.load_rules())
    w, c = time.perf_counter(), cpu()
    invs = snapshot.load(path)
    load_wall, load_cpu = time.perf_counter() - w, cpu() - c
    w2, c2 = time.perf_counter(), cpu()
    report = engine.run(invs, rules)
    run_wall, run_cpu = time.perf_counter() - w2, cpu() - c2
    rss = peak_rss_mib()
    got = {(f.rule, f.resource) for f in report.findings}
    want = {(e["rule"], e["resource"]) for e in json.loads(Path(expected_path).read_text())["expected"]}
    per_rule_want: dict[str, int] = {}
    for rule_id, _ in want:
        per_rule_want[rule_id] = per_rule_want.get(rule_id, 0) + 1
    per_rule_got: dict[str, int] = {}
    for rule_id, _res in got & want:
        per_rule_got[rule_id] = per_rule_got.get(rule_id, 0) + 1
    # per-rule time, a second pass on one prebuilt graph (same code path as engine.run)
    per_rule: dict[str, float] = {}
    ctx = engine.Context(None, invs[0], None, {})
    for r in rules:
        ctx.rule = r
        t = time.perf_counter()
        list(r.check(ctx) or ())
        per_rule[r.id] = time.perf_counter() - t
    return {
        "load_wall": load_wall, "load_cpu": load_cpu,
        "graph_wall": report.stats["graph_seconds"], "rules_wall": report.stats["rules_seconds"],
        "run_cpu": run_cpu, "run_wall": run_wall,
        "total_wall": load_wall + run_wall, "total_cpu": load_cpu + run_cpu, "rss_mib": rss,
        "rules": len(rules), "findings": len(report.findings),
        "true_positives": len(got & want), "false_positives": sorted(got - want)[:20],
        "false_positive_count": len(got - want), "missed": sorted(want - got)[:20], "missed_count": len(want - got),
        "expected": len(want), "per_rule_expected": per_rule_want, "per_rule_found": per_rule_got,
        "per_rule_seconds": per_rule,
    }


def child_floor(endpoint: str, concurrent: str = "no") -> dict[str, Any]:
    """The bare floor: each Describe called once with plain boto3, one after the other (or all at
    once on a thread pool, as preflight's collector does, with `concurrent=yes`)."""
    from concurrent.futures import ThreadPoolExecutor

    import boto3

    w, c = time.perf_counter(), cpu()
    ec2 = boto3.client("ec2", region_name=REGION, endpoint_url=endpoint)
    if concurrent == "yes":
        with ThreadPoolExecutor(max_workers=len(DESCRIBES)) as pool:
            replies = list(pool.map(lambda op: getattr(ec2, op)(), DESCRIBES))
    else:
        replies = [getattr(ec2, op)() for op in DESCRIBES]
    return {"wall": time.perf_counter() - w, "cpu": cpu() - c, "calls": len(replies)}


def run_child(*args: str, env: dict[str, str] | None = None) -> tuple[dict[str, Any], float]:
    t = time.perf_counter()
    out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", *args],
                         capture_output=True, text=True, env={**os.environ, **(env or {})})
    if out.returncode:
        raise RuntimeError(f"bench child {' '.join(args)} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1]), time.perf_counter() - t


# --- the snapshot benchmark ---------------------------------------------------------------------

def ensure_snapshot(size: str, regen: bool) -> tuple[Path, dict[str, Any]]:
    from bench import generate

    path = DATA / f"{size}.json"
    meta_path = path.with_suffix(".expected.json")
    if regen or not path.exists() or not meta_path.exists():
        print(f"generating size {size}…", file=sys.stderr)
        generate.write(size, path)
    return path, json.loads(meta_path.read_text())


def bench_size(size: str, repeat: int, regen: bool) -> dict[str, Any]:
    path, meta = ensure_snapshot(size, regen)
    floors, checks = [], []
    for _ in range(repeat):  # interleaved, so both see the same machine load
        floors.append(run_child("json", str(path))[0])
        checks.append(run_child("check", str(path), str(path.with_suffix(".expected.json")))[0])
    best = min(checks, key=lambda r: r["total_wall"])
    floor = min(floors, key=lambda r: r["wall"])
    return {
        "size": size, "counts": meta["counts"], "file_mib": path.stat().st_size / 2**20, "repeat": repeat,
        "json_wall": floor["wall"], "json_cpu": floor["cpu"], "json_rss_mib": min(f["rss_mib"] for f in floors),
        "median_total_wall": statistics.median(r["total_wall"] for r in checks),
        **best,
        "ratio_wall": best["total_wall"] / floor["wall"], "ratio_cpu": best["total_cpu"] / floor["cpu"],
        "loadavg": os.getloadavg()[0],
    }


MOTO_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": REGION, "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            # moto computing a 20,000-rule answer on a loaded 2-core machine can take minutes (warm-up)
            "PREFLIGHT_READ_TIMEOUT": "900"}


def fake_credentials() -> dict[str, str | None]:
    """Point boto3 at moto's fake credentials; returns what to restore."""
    saved = {k: os.environ.get(k) for k in MOTO_ENV}
    os.environ.update(MOTO_ENV)
    return saved


def restore_env(saved: dict[str, str | None]) -> None:
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


# --- the collection benchmark (moto server) ------------------------------------------------------

def seed_backend(endpoint: str, snapshot_path: Path) -> tuple[dict[str, int], dict[str, str]]:
    """Recreate a synthetic account (healthy wiring; the planted faults are not needed to time
    collection) straight in the moto server's in-process backend (no HTTP: thousands of calls
    would take minutes on a loaded machine), NAT gateways and their routes left out. Instances are
    started with boto3, one call per VPC. Counts are read back through the API."""
    import boto3
    from moto.ec2.models import ec2_backends

    from preflight.inventory import snapshot

    inv = snapshot.load(snapshot_path)[0]
    b = ec2_backends["123456789012"][REGION]
    for vpc in [v for v in b.vpcs.values() if v.is_default]:
        for sub in [x for x in b.describe_subnets() if x.vpc_id == vpc.id]:
            b.delete_subnet(sub.id)
        b.delete_vpc(vpc.id)
    ids: dict[str, str] = {}
    for v in inv.vpcs:
        ids[v.id] = b.create_vpc(cidr_block=v.cidr_blocks[0]).id
    for g in inv.internet_gateways:
        ids[g.id] = b.create_internet_gateway().id
        for a in g.attachments:
            b.attach_internet_gateway(ids[g.id], ids[a.vpc_id])
    for sub in inv.subnets:
        ids[sub.id] = b.create_subnet(vpc_id=ids[sub.vpc_id], cidr_block=sub.cidr_block,
                                      availability_zone=sub.availability_zone).id
    for t in inv.route_tables:
        if t.is_main:
            continue
        rtb = b.create_route_table(ids[t.vpc_id]).id
        for a in t.associations:
            if a.subnet_id in ids:
                b.associate_route_table(rtb, subnet_id=ids[a.subnet_id])
        for r in t.routes:
            if r.target_kind == "internet_gateway" and r.target_id in ids:
                b.create_route(rtb, r.destination_cidr, gateway_id=ids[r.target_id])
    for g in inv.security_groups:
        ids[g.id] = b.create_security_group(g.group_name, g.description or "bench", ids[g.vpc_id]).id
    for g in inv.security_groups:
        for r in g.ingress[:60]:  # moto enforces the 60-rule quota (the planted SG005 group has 61)
            ports = ("-1", "-1") if r.ip_protocol == "-1" else (str(r.from_port), str(r.to_port))
            if r.cidr_ipv4:
                b.authorize_security_group_ingress(ids[g.id], r.ip_protocol, *ports, [{"CidrIp": r.cidr_ipv4}])
            elif r.referenced_group and r.referenced_group.group_id in ids:
                b.authorize_security_group_ingress(ids[g.id], r.ip_protocol, *ports, [],
                                                   source_groups=[{"GroupId": ids[r.referenced_group.group_id]}])
    ec2 = boto3.client("ec2", region_name=REGION, endpoint_url=endpoint)
    per_vpc: dict[str, int] = {}
    first_subnet: dict[str, str] = {}
    for i in inv.instances:
        per_vpc[i.vpc_id] = per_vpc.get(i.vpc_id, 0) + 1
        first_subnet.setdefault(i.vpc_id, i.subnet_id)
    for vid, n in per_vpc.items():
        ec2.run_instances(ImageId="ami-12c6146b", MinCount=n, MaxCount=n, InstanceType="t3.medium",
                          SubnetId=ids[first_subnet[vid]])
    counts = {"vpcs": len(inv.vpcs), "subnets": len(inv.subnets), "security_groups": len(inv.security_groups),
              "security_group_rules": _pages(ec2, "describe_security_group_rules")[1],
              "instances": len(inv.instances)}
    return counts, ids


def bench_moto(repeat: int) -> dict[str, Any]:
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log line per request
    path, _ = ensure_snapshot("S", False)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    env = MOTO_ENV
    saved = fake_credentials()
    try:
        endpoint = f"http://127.0.0.1:{server._server.server_port}"
        t = time.perf_counter()
        seeded, _ = seed_backend(endpoint, path)
        seed_seconds = time.perf_counter() - t
        exe = str(Path(sys.executable).with_name("preflight"))

        def preflight(*extra: str) -> tuple[float, str]:
            t = time.perf_counter()
            out = subprocess.run([exe, "check", "--region", REGION, "--endpoint-url", endpoint, "--format", "json",
                                  "--stats", *extra], capture_output=True, text=True, env={**os.environ, **env})
            return time.perf_counter() - t, out.stderr

        floors, pfloors, collects, checks = [], [], [], []
        for _ in range(repeat):  # interleaved, so all see the same machine load
            res, proc = run_child("floor", endpoint, "no", env=env)
            floors.append({**res, "process": proc})
            res, proc = run_child("floor", endpoint, "yes", env=env)
            pfloors.append({**res, "process": proc})
            # collection plus one trivial rule that needs no extra collector: the collector alone
            collects.append(preflight("--select", "NET006"))
            checks.append(preflight())
    finally:
        server.stop()
        restore_env(saved)

    def parse(stats_text: str) -> tuple[int, int, float]:
        calls = pages = 0
        collect = float("nan")
        for line in stats_text.splitlines():
            if line.strip().startswith("api calls:"):
                parts = line.replace(",", "").split()
                calls, pages = int(parts[2]), int(parts[4])
            if line.strip().startswith("seconds: collect"):
                collect = float(line.replace(",", "").split()[2])
        return calls, pages, collect

    best_collect = min(collects, key=lambda c: c[0])
    best_check = min(checks, key=lambda c: c[0])
    calls, pages, collect_in_process = parse(best_collect[1])
    check_calls, _, _ = parse(best_check[1])
    floor_proc = min(f["process"] for f in floors)
    floor_calls = min(f["wall"] for f in floors)
    pfloor_proc = min(f["process"] for f in pfloors)
    pfloor_calls = min(f["wall"] for f in pfloors)
    return {
        "seeded": seeded, "seed_seconds": seed_seconds, "repeat": repeat,
        "floor_process": floor_proc, "floor_calls_wall": floor_calls, "floor_calls": len(DESCRIBES),
        "collect_process": best_collect[0], "check_process": best_check[0], "check_calls": check_calls,
        "ratio_process": best_collect[0] / floor_proc,
        "collect_in_process": collect_in_process, "ratio_in_process": collect_in_process / floor_calls,
        "pfloor_process": pfloor_proc, "pfloor_calls_wall": pfloor_calls,
        "ratio_process_concurrent": best_collect[0] / pfloor_proc,
        "ratio_in_process_concurrent": collect_in_process / pfloor_calls,
        "api_calls": calls, "api_pages": pages, "stats": best_collect[1], "check_stats": best_check[1],
        "loadavg": os.getloadavg()[0],
    }


# --- the latency benchmark (moto server, every request delayed) ----------------------------------

CHAINS = DESCRIBES  # each Describe read alone, page after page: one paginated chain


EC2_API_VERSION = "2016-11-15"
TOKEN_PREFIX = "bench:"


def result_sets() -> dict[str, str]:
    """EC2 action -> the XML element that holds its paginated items (botocore's paginator model
    names the result key, the service model its wire name: SecurityGroupRules -> securityGroupRuleSet)."""
    import botocore.session

    session = botocore.session.get_session()
    model = session.get_service_model("ec2")
    loader = session.get_component("data_loader")
    pagination = loader.load_service_model("ec2", "paginators-1", model.api_version)["pagination"]
    out: dict[str, str] = {}
    for op, cfg in pagination.items():
        key = cfg.get("result_key")
        member = model.operation_model(op).output_shape.members.get(key) if isinstance(key, str) else None
        if member is not None and "limit_key" in cfg:
            out[op] = member.serialization.get("name", key)
    return out


class Answer:
    """One Describe's whole answer from moto, cut once into the XML around its items and the items."""

    MARK = "@@bench-items@@"

    def __init__(self, xml: bytes, set_name: str) -> None:
        import xml.etree.ElementTree as ET

        root = ET.fromstring(xml)
        ns = root.tag[1:].split("}")[0] if root.tag.startswith("{") else ""
        if ns:
            ET.register_namespace("", ns)

        def q(tag: str) -> str:
            return f"{{{ns}}}{tag}" if ns else tag

        for token in root.findall(q("nextToken")):
            root.remove(token)
        holder = root.find(q(set_name))
        if holder is None:  # moto leaves out an empty set
            holder = ET.SubElement(root, q(set_name))
        self.items = [ET.tostring(item) for item in holder]
        for item in list(holder):
            holder.remove(item)
        holder.text = self.MARK
        self.head, self.tail = ET.tostring(root).split(self.MARK.encode())

    def page(self, offset: int, size: int | None) -> bytes:
        end = len(self.items) if size is None else offset + size
        tail = self.tail
        if end < len(self.items):  # more to come: a token, as EC2 gives, before the root's end tag
            cut = tail.rfind(b"</")
            tail = tail[:cut] + f"<nextToken>{TOKEN_PREFIX}{end}</nextToken>".encode() + tail[cut:]
        return self.head + b"".join(self.items[offset:end]) + tail


class LatencyMoto:
    """A moto server on 127.0.0.1 that answers like a distant EC2: each request waits `delay`
    seconds (the API latency), and each paginated Describe is cut at the MaxResults asked (moto
    itself answers most Describes whole, whatever MaxResults says), with a token for the rest.

    moto computes each distinct Describe (action, filters, region) once, and its answer is kept while
    `replay` is on: moto's own CPU time (seconds for 20,000 rules, on the same two cores as the
    client) would otherwise be measured instead of the client's round trips; AWS's own server time is
    part of its latency. Each measurement is run once untimed first, so timed runs only hit the
    cache (`misses` counts the ones that did not)."""

    def __init__(self) -> None:
        self.delay = 0.0
        self.replay = False
        self.answers: dict[Any, Answer] = {}
        self.sets = result_sets()
        self.requests = self.misses = 0
        self._computing: dict[Any, Any] = {}  # key -> lock: one moto computation per answer
        self._server: Any = None
        self._thread: Any = None

    def start(self) -> None:
        import threading

        from moto.server import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
        from werkzeug.serving import make_server

        self.app = DomainDispatcherApplication(create_backend_app)
        self._server = make_server("127.0.0.1", 0, self, threaded=True, request_handler=MotoRequestHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join()

    def forget(self) -> None:
        self.answers.clear()
        self.requests = self.misses = 0

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        import io
        import threading
        import urllib.parse

        if self.delay:
            time.sleep(self.delay)
        self.requests += 1
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        pairs = urllib.parse.parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
        fields = dict(pairs)
        action = fields.get("Action", "")
        if not self.replay or fields.get("Version") != EC2_API_VERSION or action not in self.sets:
            environ["wsgi.input"] = io.BytesIO(body)
            return self.app(environ, start_response)
        size = int(fields["MaxResults"]) if "MaxResults" in fields else None
        token = fields.get("NextToken", "")
        offset = int(token.removeprefix(TOKEN_PREFIX)) if token.startswith(TOKEN_PREFIX) else 0
        rest = [(k, v) for k, v in pairs if k not in ("MaxResults", "NextToken")]
        scope = environ.get("HTTP_AUTHORIZATION", "").split("Credential=")[-1].split("/")[2:3]  # the region
        key = (tuple(scope), tuple(sorted(rest)))
        answer = self.answers.get(key)
        if answer is None:
            # A retried or concurrent request for the same answer waits for the first one's.
            with self._computing.setdefault(key, threading.Lock()):
                answer = self.answers.get(key)
                if answer is None:
                    answer, failed = self._compute(key, rest, action, environ)
                    if failed is not None:
                        start_response(*failed[:2])
                        return [failed[2]]
        data = answer.page(offset, size)
        start_response("200 OK", [("Content-Type", "text/xml"), ("Content-Length", str(len(data)))])
        return [data]

    def _compute(self, key: Any, rest: list[tuple[str, str]], action: str,
                 environ: dict[str, Any]) -> tuple[Any, tuple[str, Any, bytes] | None]:
        import io
        import urllib.parse

        self.misses += 1
        whole = urllib.parse.urlencode(rest).encode()
        environ = {**environ, "wsgi.input": io.BytesIO(whole), "CONTENT_LENGTH": str(len(whole))}
        got: dict[str, Any] = {}

        def keep(status: str, headers: Any, exc_info: Any = None) -> Any:
            got["status"], got["headers"] = status, headers
            return lambda data: None

        xml = b"".join(self.app(environ, keep))
        if not got["status"].startswith("200"):  # an error: as moto said it, never kept
            return None, (got["status"], got["headers"], xml)
        answer = self.answers[key] = Answer(xml, self.sets[action])
        return answer, None


def _pages(ec2: Any, op: str, **params: Any) -> tuple[int, int]:
    """Read one Describe to the end at the API's documented maximum page size: (pages, items)."""
    from preflight.collect import aws

    fetcher = next(f for f in aws.FETCHERS.values() if f.operation == op)
    limit = aws.page_limit(ec2, op)
    kwargs: dict[str, Any] = dict(params)
    if limit:
        kwargs["MaxResults"] = limit
    pages = items = 0
    while True:
        page = getattr(ec2, op)(**kwargs)
        pages += 1
        items += len(page.get(fetcher.result_key) or [])
        if not page.get("NextToken"):
            return pages, items
        kwargs["NextToken"] = page["NextToken"]


def child_chains(endpoint: str) -> dict[str, Any]:
    """Each Describe's paginated chain timed alone (plain boto3, real maximum page sizes), then the
    longest one sharded as the collector shards it: the groups read beside the first page of rules,
    then the rules by group-id filters sized by `aws.rule_shards` (about a page each, at most 200
    groups, EC2's limit per filter), all shards at once."""
    from concurrent.futures import ThreadPoolExecutor

    import boto3
    from botocore.config import Config

    from preflight.collect import aws

    # A loaded machine can make moto take over a minute for a page of 1,000 rules.
    ec2 = boto3.client("ec2", region_name=REGION, endpoint_url=endpoint, config=Config(read_timeout=900))
    ec2.describe_vpcs(MaxResults=5)  # connection and credentials warm, as in a collector run
    chains: dict[str, dict[str, float]] = {}
    for op in CHAINS:
        t, c = time.perf_counter(), cpu()
        pages, items = _pages(ec2, op)
        chains[op] = {"seconds": time.perf_counter() - t, "cpu": cpu() - c, "pages": pages, "items": items}
    t, c = time.perf_counter(), cpu()

    def all_groups() -> tuple[list[str], int]:
        found: list[str] = []
        kwargs: dict[str, Any] = {"MaxResults": 1000}
        pages = 0
        while True:
            pages += 1
            page = ec2.describe_security_groups(**kwargs)
            found += [g["GroupId"] for g in page["SecurityGroups"]]
            if not page.get("NextToken"):
                return sorted(found), pages  # sorted as the collector shards them: the same questions
            kwargs["NextToken"] = page["NextToken"]

    with ThreadPoolExecutor(max_workers=2) as pool:  # as the collector: the groups beside the first page
        reading = pool.submit(all_groups)
        first = ec2.describe_security_group_rules(MaxResults=1000)["SecurityGroupRules"]
        groups, group_pages = reading.result()
    shards = aws.rule_shards(groups, first, 1000) or [groups]
    with ThreadPoolExecutor(max_workers=len(shards)) as pool:
        done = list(pool.map(lambda ids: _pages(ec2, "describe_security_group_rules",
                                                Filters=[{"Name": "group-id", "Values": ids}]), shards))
    sharded = {"seconds": time.perf_counter() - t, "cpu": cpu() - c, "shards": len(shards),
               "calls": sum(p for p, _ in done) + group_pages + 1,
               "items": sum(i for _, i in done)}
    return {"chains": chains, "sharded": sharded}


def child_scope(endpoint: str, vpc: str) -> dict[str, Any]:
    """Findings of the plan-scoped read against the account-wide read, the same plan for both:
    the scoped check may say nothing the account-wide one does not, and must say all it says about
    the plan's resources (the plan VPC's own resources, every gateway and the region)."""
    from preflight import engine
    from preflight.collect import aws
    from preflight.plan import Plan

    plan = Plan(region=REGION, vpc=vpc)
    rules = engine.select_rules(engine.load_rules())
    everything = aws.collect(aws.AwsSession(region=REGION, endpoint_url=endpoint), REGION)
    scoped_inv = aws.collect(aws.AwsSession(region=REGION, endpoint_url=endpoint), REGION, plan=plan)
    unscoped = [f.to_dict() for f in engine.run([everything], rules, plan).findings]
    scoped = [f.to_dict() for f in engine.run([scoped_inv], rules, plan).findings]
    mine = {REGION, vpc} | {g.id for g in scoped_inv.internet_gateways}
    for kind in ("subnets", "route_tables", "network_acls", "security_groups", "nat_gateways", "instances"):
        mine |= {x.id for x in getattr(scoped_inv, kind) if getattr(x, "vpc_id", vpc) == vpc}
    extra = [f for f in scoped if f not in unscoped]
    missing = [f for f in unscoped if f["resource"] in mine and f not in scoped]
    return {"unscoped": len(unscoped), "scoped": len(scoped), "plan_resources_findings": len(
        [f for f in unscoped if f["resource"] in mine]), "extra": len(extra), "missing": len(missing),
        "examples": [(f["rule"], f["resource"]) for f in (extra + missing)[:5]]}


def bench_latency(sizes: list[str], delay: float, repeat: int) -> dict[str, Any]:
    """Sizes S and M in a moto server that delays each request by `delay` seconds."""
    import logging

    import requests

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = LatencyMoto()
    server.start()
    env = MOTO_ENV
    saved = fake_credentials()
    exe = str(Path(sys.executable).with_name("preflight"))
    endpoint = server.endpoint
    out: dict[str, Any] = {"delay": delay, "sizes": {}}
    try:
        for size in sizes:
            server.delay, server.replay = 0.0, False
            server.forget()
            requests.post(f"{endpoint}/moto-api/reset", timeout=60)
            path, _ = ensure_snapshot(size, False)
            print(f"seeding moto with size {size}…", file=sys.stderr)
            t = time.perf_counter()
            seeded, ids = seed_backend(endpoint, path)
            seed_seconds = time.perf_counter() - t
            from preflight.inventory import snapshot

            vpc = ids[snapshot.load(path)[0].vpcs[1].id]  # a healthy VPC (faults are planted in the first)
            plan_file = DATA / f"plan-{size}.yaml"
            plan_file.write_text(f"region: {REGION}\nvpc: {vpc}\n")

            def preflight(*extra: str) -> dict[str, Any]:
                t = time.perf_counter()
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                proc = subprocess.run([exe, "check", "--region", REGION, "--endpoint-url", endpoint, "--format",
                                       "json", "--stats", *extra], capture_output=True, text=True,
                                      env={**os.environ, **env})
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                if proc.returncode not in (0, 1):
                    raise RuntimeError(f"preflight check failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
                process_cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
                return {"process": time.perf_counter() - t, "process_cpu": process_cpu, **parse_stats(proc.stderr),
                        "stats": proc.stderr}

            server.replay = True
            print(f"latency mode, size {size}: warm-up (moto computes each answer once)…", file=sys.stderr)
            t = time.perf_counter()
            run_child("chains", endpoint, env=env)
            preflight()
            preflight("--plan", str(plan_file))
            warm_seconds = time.perf_counter() - t
            misses = server.misses
            server.delay = delay
            chains, wide, scoped = [], [], []
            for _ in range(repeat):  # interleaved, so all see the same machine load
                chains.append(run_child("chains", endpoint, env=env)[0])
                wide.append(preflight())
                scoped.append(preflight("--plan", str(plan_file)))
            timed_misses = server.misses - misses
            server.delay = 0.0
            findings = run_child("scope", endpoint, vpc, env=env)[0]
            best_chains = {op: min((c["chains"][op] for c in chains), key=lambda x: x["seconds"]) for op in CHAINS}
            longest = max(best_chains, key=lambda op: best_chains[op]["seconds"])
            out["sizes"][size] = {
                "seeded": seeded, "seed_seconds": seed_seconds, "warm_seconds": warm_seconds,
                "timed_misses": timed_misses, "plan_vpc": vpc, "chains": best_chains,
                "longest": longest, "longest_seconds": best_chains[longest]["seconds"],
                "sharded": min((c["sharded"] for c in chains), key=lambda x: x["seconds"]),
                "wide": min(wide, key=lambda r: r["collect"]), "scoped": min(scoped, key=lambda r: r["collect"]),
                "findings": findings, "loadavg": os.getloadavg()[0],
            }
    finally:
        server.stop()
        restore_env(saved)
    return out


def parse_stats(text: str) -> dict[str, Any]:
    """API calls, pages and stage seconds from `preflight check --stats`."""
    calls = pages = 0
    seconds: dict[str, float] = {}
    for line in text.splitlines():
        words = line.replace(",", "").split()
        if line.strip().startswith("api calls:"):
            calls, pages = int(words[2]), int(words[4])
        if line.strip().startswith("seconds:"):
            seconds = {words[i]: float(words[i + 1]) for i in range(1, len(words) - 1, 2)}
    return {"calls": calls, "pages": pages, "collect": seconds.get("collect", float("nan")),
            "total": seconds.get("total", float("nan"))}


# --- output ---------------------------------------------------------------------------------------

def fmt_counts(c: dict[str, int]) -> str:
    keys = ("subnets", "route_tables", "security_groups", "security_group_rules", "instances", "vpcs")
    return ", ".join(f"{c[k]:,} {k.replace('_', ' ')}" for k in keys if k in c)


def _verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def targets(results: list[dict[str, Any]], moto: dict[str, Any] | None) -> list[str]:
    """The issue's targets against this run's numbers, with the verdict computed, not typed."""
    by = {r["size"]: r for r in results}
    out = ["", "### Targets", "", "| target | measured | verdict |", "|---|---|---|"]
    for r in results:
        # Issue 17 sets these for L; S is shown beside it, where fixed costs (imports) dominate.
        whose = "issue 17" if r["size"] == "L" else "issue 17's L target, applied to S for comparison"
        out.append(f"| {r['size']}: total ≤ 3× stdlib `json.load` of the same file ({whose}) | "
                   f"{r['ratio_wall']:.2f}× wall ({r['total_wall']:.2f} s / {r['json_wall']:.2f} s), CPU "
                   f"{r['ratio_cpu']:.2f}× | {_verdict(r['ratio_wall'] <= 3)} |")
        rss_ratio = r["rss_mib"] / r["json_rss_mib"]
        out.append(f"| {r['size']}: peak RSS ≤ 2.5× the `json.load` process's ({whose}) | {rss_ratio:.2f}× "
                   f"({r['rss_mib']:.0f} MiB / {r['json_rss_mib']:.0f} MiB) | {_verdict(rss_ratio <= 2.5)} |")
    if "L" in by:
        big = by["L"]
        out.append(f"| L checks in under 5 s on a 2-core machine | {big['total_wall']:.2f} s wall, "
                   f"{big['total_cpu']:.2f} s CPU | {_verdict(big['total_wall'] < 5)} |")
        out.append(f"| L peak RSS under 1 GiB | {big['rss_mib']:.0f} MiB | {_verdict(big['rss_mib'] < 1024)} |")
    if "L" in by and "S" in by:
        s, big = by["S"], by["L"]
        size_ratio = sum(big["counts"].values()) / sum(s["counts"].values())
        cpu_ratio = big["total_cpu"] / s["total_cpu"]
        per_type = ", ".join(f"{k.replace('_', ' ')} {big['counts'][k] / s['counts'][k]:.0f}×"
                             for k in ("subnets", "route_tables", "security_groups", "security_group_rules")
                             if s["counts"].get(k))
        out.append(f"| cost grows linearly: L/S time ratio no worse than the size ratio | CPU {cpu_ratio:.1f}× "
                   f"(wall {big['total_wall'] / s['total_wall']:.1f}×) for {size_ratio:.1f}× the objects "
                   f"({per_type}) | {_verdict(cpu_ratio <= size_ratio)}"
                   + ("" if cpu_ratio <= size_ratio else
                      f" by {cpu_ratio / size_ratio - 1:.0%}: subnets and route tables grow 50× from S to L "
                      "and the NET rules and graph are linear in them") + " |")
    for r in results:
        ok = r["missed_count"] == 0 and r["false_positive_count"] == 0
        out.append(f"| {r['size']}: every planted fault found, no other finding | {r['true_positives']}/"
                   f"{r['expected']} found, {r['false_positive_count']} other | {_verdict(ok)} |")
    if moto:
        m = moto
        out.append(f"| collection within 1.1× of the bare-Describe floor (size S, moto) | {m['ratio_process']:.2f}× "
                   f"as fresh processes, {m['ratio_in_process']:.2f}× in process (sequential floor) | "
                   f"{_verdict(m['ratio_process'] <= 1.1)}"
                   + ("" if m["ratio_process"] <= 1.1 else
                      f" by {m['ratio_process'] / 1.1 - 1:.0%} as processes: fixed CLI start-up and the "
                      "sts:GetCallerIdentity call; the collection itself is at the floor") + " |")
    return out


def latency_markdown(lat: dict[str, Any]) -> list[str]:
    lines = ["", f"## Collection with API latency (moto server, every request delayed {lat['delay'] * 1000:.0f} ms)",
             "", "Real maximum page sizes (MaxResults from botocore's service model: 1000, DescribeRouteTables 100, "
             "DescribeEgressOnlyInternetGateways 255), each Describe cut at the size asked by `LatencyMoto` as EC2 "
             "does. moto computed each answer once in an untimed warm-up run; the timed runs replayed them "
             "(answers moto had to compute during timed runs: "
             + ", ".join(f"{k} {r['timed_misses']}" for k, r in lat["sizes"].items()) + "). "
             "Chains are plain boto3, each Describe read alone page after "
             "page; checks are `preflight check --stats` in fresh processes, collection seconds from `--stats` "
             "(in process, after start-up; includes sts:GetCallerIdentity and the clients' creation). Best of the "
             "runs, interleaved.", "",
             "| size | account | seeded in | longest chain (CPU) | sharded rules (group-id filters sized by "
             "`rule_shards`; CPU) | account-wide check: collection / process (process CPU) / calls | plan-scoped "
             "(one VPC): collection / process (process CPU) / calls |", "|---|---|---|---|---|---|---|"]
    for size, r in lat["sizes"].items():
        ch, sh, w, sc = r["chains"][r["longest"]], r["sharded"], r["wide"], r["scoped"]
        lines.append(
            f"| {size} | {fmt_counts(r['seeded'])} | {r['seed_seconds']:.0f} s | {r['longest_seconds']:.2f} s "
            f"({r['longest']}, {ch['pages']} pages, {ch['items']:,} items; CPU {ch['cpu']:.2f} s) | "
            f"{sh['seconds']:.2f} s ({sh['shards']} shards, {sh['calls']} calls; CPU {sh['cpu']:.2f} s) | "
            f"{w['collect']:.2f} s / {w['process']:.2f} s ({w.get('process_cpu', float('nan')):.2f} s) / "
            f"{w['calls']} | {sc['collect']:.2f} s / {sc['process']:.2f} s "
            f"({sc.get('process_cpu', float('nan')):.2f} s) / {sc['calls']} |")
    lines += ["", "(Targets: in the issue-17 table at the top.)"]
    for size, r in lat["sizes"].items():
        sh = r["sharded"]
        beats = sh["seconds"] < r["longest_seconds"]
        lines.append("")
        lines.append(f"{size}: sharding the longest chain {'beats' if beats else 'does not beat'} it: "
                     f"{sh['seconds']:.2f} s for {sh['shards']} concurrent shards after the groups and a first "
                     "page, against "
                     f"{r['longest_seconds']:.2f} s for one chain of {r['chains'][r['longest']]['pages']} pages "
                     f"({sh['calls']} calls against {r['chains'][r['longest']]['pages']}).")
        lines.append("Per chain (seconds/pages): " + ", ".join(
            f"{op.removeprefix('describe_')} {c['seconds']:.2f}/{c['pages']}" for op, c in r["chains"].items()) + ".")
        lines += ["", f"{size} plan-scoped `--stats`:", "```", r["scoped"]["stats"].rstrip(), "```"]
    return lines


def issue17(results: list[dict[str, Any]], latency: dict[str, Any] | None,
            startup_res: dict[str, Any] | None) -> list[str]:
    """Every ratio issue 17 sets, next to its target, from this run (a row says so when its part
    was not run)."""
    out = ["## Issue 17 targets (this run)", "", "| target | measured | verdict |", "|---|---|---|"]
    by = {r["size"]: r for r in results}
    not_run = "not run (part skipped)"
    big = by.get("L")
    if big:
        out.append(f"| offline L: total ≤ 3× stdlib `json.load` of the same file | {big['ratio_wall']:.2f}× "
                   f"({big['total_wall']:.2f} s / {big['json_wall']:.2f} s; CPU {big['ratio_cpu']:.2f}×) | "
                   f"{_verdict(big['ratio_wall'] <= 3)} |")
        rss = big["rss_mib"] / big["json_rss_mib"]
        out.append(f"| offline L: peak RSS ≤ 2.5× the `json.load` process's | {rss:.2f}× ({big['rss_mib']:.0f} MiB / "
                   f"{big['json_rss_mib']:.0f} MiB) | {_verdict(rss <= 2.5)} |")
        ok = big["missed_count"] == 0 and big["false_positive_count"] == 0
        out.append(f"| offline L: findings identical (every planted fault, nothing else) | {big['true_positives']}/"
                   f"{big['expected']} found, {big['false_positive_count']} other | {_verdict(ok)} |")
    else:
        out.append(f"| offline L: total ≤ 3× `json.load`, RSS ≤ 2.5×, findings identical | {not_run} | – |")
    if startup_res:
        med = startup_res["median"]
        out.append(f"| start-up: `preflight --version` ≤ 6× `python -I -c pass` | {startup_res['version_ratio']:.2f}× "
                   f"({med['preflight --version']:.3f} s / {med['python -I -c pass']:.3f} s, median of "
                   f"{startup_res['runs']}) | {_verdict(startup_res['version_ratio'] <= 6)} |")
        out.append("| start-up: S offline check ≤ 2× (`json.load(S)` + `--version`) | "
                   f"{startup_res['check_ratio']:.2f}× "
                   f"({med['preflight check --snapshot S']:.3f} s / ({med['json.load(S)']:.3f} s + "
                   f"{med['preflight --version']:.3f} s)) | {_verdict(startup_res['check_ratio'] <= 2)} |")
    else:
        out.append(f"| start-up: `--version` ≤ 6×, S offline check ≤ 2× | {not_run} | – |")
    lat = (latency or {}).get("sizes", {})
    if "S" in lat and "M" in lat:
        s_, m_ = lat["S"]["scoped"], lat["M"]["scoped"]
        ratio = m_["collect"] / s_["collect"]
        out.append(f"| latency: plan-scoped check on M ≤ 1.2× plan-scoped on S | {ratio:.2f}× ({m_['collect']:.2f} s / "
                   f"{s_['collect']:.2f} s collection; {m_['calls']} / {s_['calls']} API calls) | "
                   f"{_verdict(ratio <= 1.2)} |")
    else:
        out.append(f"| latency: plan-scoped check on M ≤ 1.2× on S | {not_run} | – |")
    for size, r in lat.items():
        ratio = r["wide"]["collect"] / r["longest_seconds"]
        ch = r["chains"][r["longest"]]
        out.append(f"| latency {size}: account-wide check ≤ 1.1× the longest single paginated chain | {ratio:.2f}× "
                   f"({r['wide']['collect']:.2f} s, {r['wide']['calls']} calls / {r['longest_seconds']:.2f} s for "
                   f"{r['longest'].removeprefix('describe_')}, {ch['pages']} calls) | {_verdict(ratio <= 1.1)} |")
        sh = r["sharded"]
        out.append(f"| latency {size}: sharding the longest chain by group-id filters beats it (reported) | "
                   f"{sh['seconds']:.2f} s, {sh['calls']} calls ({sh['shards']} shards after the groups and a "
                   "first page) against "
                   f"{r['longest_seconds']:.2f} s, {ch['pages']} calls | "
                   f"{'beats it' if sh['seconds'] < r['longest_seconds'] else 'does not beat it'} |")
        f = r["findings"]
        ok = f["extra"] == 0 and f["missing"] == 0
        out.append(f"| latency {size}: plan-scoped findings = account-wide findings on the plan's resources | "
                   f"{f['scoped']} scoped, {f['plan_resources_findings']} account-wide on the plan's resources: "
                   f"{f['extra']} extra, {f['missing']} missing | {_verdict(ok)} |")
    return out + [""]


def markdown(results: list[dict[str, Any]], moto: dict[str, Any] | None,
             latency: dict[str, Any] | None = None, startup_res: dict[str, Any] | None = None) -> str:
    cpu_count = os.cpu_count()
    load = max([r.get("loadavg", 0.0) for r in results] + [(moto or {}).get("loadavg", 0.0)]
               + [r.get("loadavg", 0.0) for r in (latency or {}).get("sizes", {}).values()]
               + [(startup_res or {}).get("loadavg", 0.0)])
    lines = [
        "# Benchmark results",
        "",
        "Produced by `python bench/run.py` (see the top of that file). "
        f"Machine: {platform.machine()}, {cpu_count} CPU(s), Python {platform.python_version()}, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. Best of {results[0]['repeat'] if results else 1} "
        "fresh-process runs; CPU = user+sys of the measuring process (wall time varies with the machine's load: "
        f"1-minute load average at most {load:.1f} at the end of each part).",
        "",
        *issue17(results, latency, startup_res),
        "## Offline check of a synthetic snapshot (all rules, no plan)",
        "",
        "| size | resources | file | json.load | snapshot load | graph | rules | **total** | CPU total | peak RSS "
        "| total / json.load |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['size']} | {fmt_counts(r['counts'])} | {r['file_mib']:.1f} MiB | {r['json_wall']:.2f} s | "
            f"{r['load_wall']:.2f} s | {r['graph_wall']:.2f} s | {r['rules_wall']:.2f} s | "
            f"**{r['total_wall']:.2f} s** | "
            f"{r['total_cpu']:.2f} s | {r['rss_mib']:.0f} MiB | {r['ratio_wall']:.1f}× (CPU {r['ratio_cpu']:.1f}×) |")
    if len(results) == 2:
        s, big = results
        weight = sum(big["counts"].values()) / sum(s["counts"].values())
        lines += ["", f"L/S: resources {weight:.1f}×, total time {big['total_wall'] / s['total_wall']:.1f}× "
                      f"(CPU {big['total_cpu'] / s['total_cpu']:.1f}×)."]
    lines += targets(results, moto)
    lines += ["", "### Precision and recall against the planted faults", "",
              "| size | rules run | planted | found | missed | other findings | precision | recall |",
              "|---|---|---|---|---|---|---|---|"]
    for r in results:
        found = r["true_positives"]
        precision = found / r["findings"] if r["findings"] else 1.0
        recall = found / r["expected"] if r["expected"] else 1.0
        lines.append(f"| {r['size']} | {r['rules']} | {r['expected']} | {found} | {r['missed_count']} | "
                     f"{r['false_positive_count']} | {precision:.3f} | {recall:.3f} |")
    for r in results:
        per = ", ".join(f"{k} {r['per_rule_found'].get(k, 0)}/{v}" for k, v in sorted(r["per_rule_expected"].items()))
        lines.append(f"\n{r['size']} per rule (found/planted): {per}.")
        unplanted = sorted(set(r["per_rule_seconds"]) - set(r["per_rule_expected"]))
        if unplanted:
            did = "and did" if r["false_positive_count"] == 0 else "but some did not"
            lines.append(f"Run but not planted (so they must stay silent, {did}): {', '.join(unplanted)}. NET001 "
                         "needs a region where no subnet is usable, which a healthy large account is not; SG010, "
                         "CMP, IAM and PORT rules judge a launch plan or data the snapshot does not hold.")
        if r["missed"] or r["false_positives"]:
            lines.append(f"Missed: {r['missed']}; other: {r['false_positives']}.")
    lines += ["", "### Time per rule (seconds, one pass on a prebuilt graph)", "",
              "| rule | " + " | ".join(r["size"] for r in results) + " |",
              "|---|" + "---|" * len(results)]
    for rid in sorted(results[0]["per_rule_seconds"]) if results else []:
        lines.append(f"| {rid} | " + " | ".join(f"{r['per_rule_seconds'].get(rid, 0):.3f}" for r in results) + " |")
    if moto:
        m = moto
        lines += [
            "", "## Collection against a moto server (size S)", "",
            f"Seeded in {m['seed_seconds']:.0f} s: {fmt_counts(m['seeded'])}. Each row is a fresh process "
            f"against the same server in the same run, best of {m['repeat']}.", "",
            "| what | wall time | API calls |", "|---|---|---|",
            f"| bare floor: one call of each of the {m['floor_calls']} Describes, plain boto3 (process) | "
            f"{m['floor_process']:.2f} s | {m['floor_calls']} |",
            f"| … of which the calls themselves (in process) | {m['floor_calls_wall']:.2f} s | |",
            f"| bare floor, the {m['floor_calls']} Describes at once on a thread pool (process) | "
            f"{m['pfloor_process']:.2f} s | {m['floor_calls']} |",
            f"| … of which the calls themselves (in process) | {m['pfloor_calls_wall']:.2f} s | |",
            f"| `preflight check --select NET006` (collection + one trivial rule, process) | "
            f"{m['collect_process']:.2f} s | {m['api_calls']} |",
            f"| … of which collection (in process, `--stats`) | {m['collect_in_process']:.2f} s | |",
            f"| `preflight check` (all rules, their extra collectors too, process) | {m['check_process']:.2f} s | "
            f"{m['check_calls']} |",
            "", f"Collection / sequential floor: **{m['ratio_process']:.2f}×** as fresh processes, "
                f"**{m['ratio_in_process']:.2f}×** in process; / concurrent floor: "
                f"**{m['ratio_process_concurrent']:.2f}×** as processes, "
                f"**{m['ratio_in_process_concurrent']:.2f}×** in process. preflight's calls: {m['api_calls']} "
                f"({m['api_pages']} pages): one paginated sequence per resource type plus sts:GetCallerIdentity; "
                "the count does not depend on the number of subnets or groups (tests/e2e/test_call_economy.py).",
            "", "```", m["stats"].rstrip(), "```",
        ]
    if latency:
        lines += latency_markdown(latency)
    if startup_res:
        med = startup_res["median"]
        floor = med["python -I -c pass"]
        lines += ["", "## Start-up (fresh processes, interleaved, median of "
                  f"{startup_res['runs']}; `python bench/startup.py` alone)", "",
                  "| command | median | × `python -I -c pass` |", "|---|---|---|"]
        lines += [f"| `{name}` | {t:.3f} s | {t / floor:.1f}× |" for name, t in med.items()]
    return "\n".join(lines) + "\n"


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        kind, args = sys.argv[2], sys.argv[3:]
        fn = {"json": child_json, "check": child_check, "floor": child_floor, "chains": child_chains,
              "scope": child_scope}[kind]
        print(json.dumps(fn(*args)))
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="S,L", help="comma-separated sizes (S, L)")
    ap.add_argument("--repeat", type=int, default=3, help="fresh-process runs per measurement (best is kept)")
    ap.add_argument("--no-moto", action="store_true", help="skip the moto collection benchmark")
    ap.add_argument("--regen", action="store_true", help="regenerate the snapshots")
    ap.add_argument("--latency-sizes", default="S,M", help="sizes for the latency benchmark ('' to skip it)")
    ap.add_argument("--delay", type=float, default=0.1, help="latency mode: seconds each request is delayed")
    ap.add_argument("--latency-repeat", type=int, default=1, help="latency mode: runs per measurement")
    ap.add_argument("--no-floor", action="store_true", help="skip the (unthrottled) size-S collection floor")
    ap.add_argument("--startup-runs", type=int, default=9, help="start-up: fresh processes per command (median)")
    ap.add_argument("--no-startup", action="store_true", help="skip the start-up timing")
    ap.add_argument("--quick", action="store_true",
                    help="a few minutes instead of the full run: size S offline (1 run), no unthrottled floor, "
                         "latency mode on S only, 3 start-up runs; its ratios for L and M are then missing")
    ap.add_argument("--markdown", type=Path, help="also write the results as Markdown (e.g. bench/RESULTS.md)")
    ap.add_argument("--json", type=Path, help="also write the raw results as JSON")
    args = ap.parse_args()
    if args.quick:
        args.sizes, args.repeat, args.no_floor, args.latency_sizes, args.startup_runs = "S", 1, True, "S", 3
    if not args.no_moto:
        try:
            import moto.server  # noqa: F401
        except ImportError as exc:
            sys.exit(f"bench: the collection benchmark needs moto ({exc}): pip install -e '.[test]', or --no-moto")
    results = []
    for size in [s.strip().upper() for s in args.sizes.split(",") if s.strip()]:
        print(f"size {size}…", file=sys.stderr)
        results.append(bench_size(size, args.repeat, args.regen))
    moto = None if args.no_moto or args.no_floor else bench_moto(args.repeat)
    lat_sizes = [x.strip().upper() for x in args.latency_sizes.split(",") if x.strip()]
    latency = None if args.no_moto or not lat_sizes else bench_latency(lat_sizes, args.delay, args.latency_repeat)
    startup_res = None
    if not args.no_startup:
        from bench import startup

        print("start-up…", file=sys.stderr)
        snap, _ = ensure_snapshot("S", False)
        startup_res = {**startup.measure(args.startup_runs, str(snap)), "loadavg": os.getloadavg()[0]}
    text = markdown(results, moto, latency, startup_res)
    sys.stdout.write(text)
    if args.markdown:
        args.markdown.write_text(text)
    if args.json:
        args.json.write_text(json.dumps({"sizes": results, "moto": moto, "latency": latency, "startup": startup_res},
                                        indent=1,
                                        default=str) + "\n")


if __name__ == "__main__":
    main()
