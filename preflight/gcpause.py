"""Pause Python's cyclic garbage collector while building or scanning large object graphs.

An inventory of a large account is hundreds of thousands of small frozen objects without
reference cycles. With the collector running, every few thousand allocations it traverses the
growing heap again, which makes loading and checking a large account grow faster than linearly
(measured on bench size L: 3.9 s -> 2.3 s CPU, see bench/RESULTS.md). Reference counting still
frees everything as usual; only the cycle search waits until the block ends.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
