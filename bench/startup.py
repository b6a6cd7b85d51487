"""Start-up cost of the commands that need no cloud, measured side by side in one run (issue 17 item 2).

    python bench/startup.py            # prints each ratio next to its target
    python bench/startup.py --runs 15

- `preflight --version` against `python -I -c pass` (target: at most 6x);
- `preflight rules` and `preflight explain NET002` against the same floor (reported, no target);
- `preflight check --snapshot S` offline, S being the benchmark's size-S snapshot (bench/.data/S.json,
  made by `python bench/run.py --sizes S`; else the small tests/data snapshot) against
  `python -c "import json; json.load(open(S))"` plus the `--version` time (target: at most 2x).

Medians of fresh processes, run interleaved so that load on the machine hits every command alike,
after one untimed run of each and with the source tree's bytecode compiled first: an editable
install under PYTHONDONTWRITEBYTECODE=1 (set in some CI and agent shells) would otherwise compile
every preflight module from source in every run, which a user's installed wheel never does.
Which modules each command imports is a test (tests/unit/test_startup.py), not a timing.
"""

from __future__ import annotations

import argparse
import compileall
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SNAPSHOT = next((p for p in (ROOT / "bench" / ".data" / "S.json",
                 ROOT / "tests" / "data" / "snapshot-no-default-route.json") if p.exists()))


def wall(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    return time.perf_counter() - t0


def measure(runs: int, snapshot: str) -> dict[str, Any]:
    """Median wall time of each command over `runs` fresh processes, interleaved, and the two ratios."""
    exe = shutil.which("preflight", path=str(Path(sys.executable).parent)) or shutil.which("preflight")
    if not exe:
        sys.exit("bench: the preflight command is not installed (pip install -e .)")
    cmds = {
        "python -I -c pass": [sys.executable, "-I", "-c", "pass"],
        "json.load(S)": [sys.executable, "-c", f"import json; json.load(open({snapshot!r}))"],
        "preflight --version": [exe, "--version"],
        "preflight rules": [exe, "rules"],
        "preflight explain NET002": [exe, "explain", "NET002"],
        "preflight check --snapshot S": [exe, "check", "--snapshot", snapshot],
    }
    for package in ("preflight", "rules", "fixers"):
        compileall.compile_dir(str(ROOT / package), quiet=1)
    for cmd in cmds.values():
        wall(cmd)
    times: dict[str, list[float]] = {k: [] for k in cmds}
    for _ in range(runs):
        for name, cmd in cmds.items():
            times[name].append(wall(cmd))
    med = {k: statistics.median(v) for k, v in times.items()}
    return {
        "runs": runs, "snapshot": snapshot, "median": med,
        "version_ratio": med["preflight --version"] / med["python -I -c pass"],
        "check_ratio": med["preflight check --snapshot S"] / (med["json.load(S)"] + med["preflight --version"]),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=9, help="fresh processes per command (default 9)")
    ap.add_argument("--snapshot", default=str(SNAPSHOT), help="the offline snapshot to check")
    args = ap.parse_args()
    if args.runs < 1:
        ap.error("--runs must be at least 1")
    res = measure(args.runs, args.snapshot)
    med = res["median"]
    floor = med["python -I -c pass"]
    print(f"{'command':<32} {'median s':>9} {'x python -I -c pass':>20}")
    for name, t in med.items():
        print(f"{name:<32} {t:9.3f} {t / floor:20.1f}")
    print()
    print(f"--version / python -I -c pass:                  {res['version_ratio']:4.1f}x  (target <= 6x)  "
          f"{'met' if res['version_ratio'] <= 6 else 'NOT met'}")
    print(f"check --snapshot S / (json.load(S) + --version): {res['check_ratio']:4.1f}x  (target <= 2x)  "
          f"{'met' if res['check_ratio'] <= 2 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
