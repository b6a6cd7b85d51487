"""What a plan's launch will use, beyond its instances: which launcher runs it and which buckets
it mounts or creates. The IAM rules check only the capabilities the launch uses (storage only
when a task mounts or creates buckets).

SkyPilot task files say this in `file_mounts` (a remote path mapped to `s3://bucket/...`, or to
a storage spec `{name, source, store, mode}`) and in the older `storage_mounts`; a spec with a
`name` and a local (or no) source makes SkyPilot create the bucket and upload to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from preflight.errors import PreflightError, load_yaml, read_input

SKYPILOT_KEYS = ("resources", "run", "setup", "num_nodes", "file_mounts", "infra", "envs", "workdir")
RAY_KEYS = ("available_node_types", "head_node_type", "provider", "cluster_name")


@dataclass(frozen=True)
class Buckets:
    read: tuple[str, ...] = ()  # buckets the task reads or mounts
    created: tuple[str, ...] = ()  # buckets the launcher creates and writes (a `name` with a local source)

    @property
    def all(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((*self.read, *self.created)))


def _documents(plan: Any) -> list[dict[str, Any]]:
    source = getattr(plan, "source", "") or ""
    if not source or not Path(source).is_file():
        return []
    try:
        # the same bounded reader and YAML loader as the plan itself
        docs = load_yaml(read_input(source, "plan"), source, multi=True)
    except PreflightError:
        return []  # the plan loader already reported an unreadable file
    return [d for d in docs if isinstance(d, dict)] if isinstance(docs, list) else []


def launcher_of(plan: Any) -> str:
    """skypilot, ray, preflight, ec2, or "" (no plan or a plain plan)."""
    if plan is None:
        return ""
    named = getattr(plan, "launcher", None)
    if named is not None:
        return str(named)
    # Plans from before `Plan.launcher`: tell the launcher from the file's own shape.
    for doc in _documents(plan):
        if any(k in doc for k in RAY_KEYS):
            return "ray"
        if any(k in doc for k in SKYPILOT_KEYS):
            return "skypilot"
    return ""


def _bucket_of(url: str) -> tuple[str, str]:
    """('s3', name) for s3://name/..., ('', '') for anything else."""
    for scheme in ("s3://", "gs://", "r2://", "cos://", "oci://", "https://"):
        if url.startswith(scheme):
            return scheme[:-3], url[len(scheme):].split("/", 1)[0]
    return "", ""


def buckets_of(plan: Any, store: str = "s3") -> Buckets:
    """The `store` buckets (s3 or gs) the plan's tasks mount, read or create."""
    given = getattr(plan, "buckets", None)
    if isinstance(given, (list, tuple)):
        return Buckets(read=tuple(str(b) for b in given))
    read: list[str] = []
    created: list[str] = []
    for doc in _documents(plan):
        mounts: dict[str, Any] = {}
        for key in ("file_mounts", "storage_mounts"):
            value = doc.get(key)
            if isinstance(value, dict):
                mounts.update(value)
        for spec in mounts.values():
            if isinstance(spec, str):
                scheme, name = _bucket_of(spec)
                if scheme == store and name:
                    read.append(name)
            elif isinstance(spec, dict):
                source = spec.get("source")
                sources = source if isinstance(source, list) else [source] if source else []
                remote = [_bucket_of(str(s)) for s in sources]
                for scheme, name in remote:
                    if scheme == store and name:
                        read.append(name)
                name = str(spec.get("name") or "")
                local = not remote or any(not scheme for scheme, _ in remote)
                spec_store = str(spec.get("store") or store).lower()
                if isinstance(name, str) and name and local and spec_store == store:
                    created.append(name)
    return Buckets(tuple(dict.fromkeys(read)), tuple(dict.fromkeys(created)))
