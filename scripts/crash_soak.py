"""Longer crash soak: the SIGKILL crash recovery test over many seeds and more kills per run.

    python scripts/crash_soak.py --seeds 10 --kills 60

Each run is tests/reliability/test_crash_recovery.py with MMBOT_CRASH_SEED / MMBOT_CRASH_KILLS set;
prints one line per run (kills, fills, seconds) and exits non-zero at the first failure.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--kills", type=int, default=40)
    args = parser.parse_args()
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        env = dict(os.environ, MMBOT_CRASH_SEED=str(seed), MMBOT_CRASH_KILLS=str(args.kills))
        started = time.monotonic()
        run = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider",
             "tests/reliability/test_crash_recovery.py"],
            cwd=ROOT, env=env, capture_output=True, text=True,
        )  # fmt: skip
        summary = [line for line in run.stdout.splitlines() if " kills (" in line]
        verdict = "ok" if run.returncode == 0 else "FAILED"
        took = time.monotonic() - started
        print(f"seed {seed}: {verdict} in {took:.0f}s {summary[-1] if summary else ''}", flush=True)
        if run.returncode != 0:
            print(run.stdout[-5000:])
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
