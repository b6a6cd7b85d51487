"""Inventory model and snapshots."""

from preflight.inventory.model import *  # noqa: F401,F403
from preflight.inventory.model import Inventory  # noqa: F401
