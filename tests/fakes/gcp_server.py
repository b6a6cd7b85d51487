"""The loopback fake GCP server for tests.

The implementation lives in the package (`preflight.collect.gcp_fake`) because the GCP sandbox
(`preflight check --sandbox gcp-storage-only --cloud gcp`) needs it on installed copies too;
tests import it from here, with helpers to write service-account key files for it.
"""

from __future__ import annotations

import json
from pathlib import Path

from preflight.collect.gcp_fake import FakeGcp, service_account_key

__all__ = ["FakeGcp", "service_account_key", "write_key"]


def write_key(fake: FakeGcp, directory: Path, account: str, project: str = "") -> Path:
    """A service-account key file for `account` whose token_uri points at `fake`."""
    path = directory / f"{account.split('@')[0]}.json"
    path.write_text(json.dumps(service_account_key(account, fake.token_uri, project)))
    return path
