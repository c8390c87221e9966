"""`mmbot backtest` end to end on the 2,000,000-row synthetic file (20 levels, tick 0.01, mean
inter-event 1.8 ms, seed 42): the full bot on virtual time with the example config's quoting
strategies (config.example.toml: the fixed spread of [strategies.mm] and the recommended GLFT of
[strategies.glft]) on a replay venue, the report included.

Each run is a `python -m bot.cli backtest` child process. rows/s are measured on the run's wall
time minus the start-up time (imports, config, store, numba cache, report of an empty run), which
is the wall time of the same command on a 2,000-row prefix (after a first, untimed run of each
tree, which compiles numba's kernels into its cache); the figure with the start-up is printed
too, and the same on CPU time (user + system of the child), which a shared machine's load does
not inflate. Each tree's bytecode is compiled first (`compileall`), as an installed package has
it. Both feeds: `book_feed = "top_moves"` (conflated) on the whole file, and the exact default
`"every_update"` (every row reaches the bot) on a prefix (`--exact-rows`, 200,000).

`--reference-tree DIR` runs every command a second time with DIR first on PYTHONPATH (e.g. the
code before a change: `git archive <commit> | tar -x -C DIR`), in the same run, and prints the
ratio: the in-run reference for a speed change. `--repeat N` measures each case N times, the trees
alternating, and prints the median and range of the end-to-end figure and of the paired ratio: a
shared machine's load moves one run's CPU time by up to ±20 %.

    PYTHONPATH=. python benchmarks/backtest_cli_throughput.py [--rows N] [--exact-rows N]
        [--strategies fixed_spread,glft] [--reference-tree DIR] [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bot.backtest.synthetic import SyntheticParams, generate
from connectors.replay.events import EventData, save_events

REPO = Path(__file__).resolve().parents[1]
TARGET_ROWS_S = 150_000  # issue 19: `mmbot backtest` end to end on the 2 M-row file

VENUE = """
[bot]
instance_id = "bench"

[venues.rp]
kind = "replay"
data = "data.npz"
order_latency_ms = 1
maker_fee_bps = "-0.5"
taker_fee_bps = "2"
initial_balances = {{ USDT = "100000", BTC = "10" }}
book_feed = "{feed}"

[[markets]]
venue = "rp"
symbol = "BTC/USDT"
order_size = "0.005"
max_position = "0.1"
"""

STRATEGIES = {
    "fixed_spread": """
[strategies.mm]
kind = "fixed_spread"
markets = ["rp:BTC/USDT"]
half_spread_bps = 3
skew_bps_per_unit_inventory_fraction = 6
n_levels = 2
level_spacing_bps = 3
min_requote_interval_ms = 250
refresh_tolerance_ticks = 1
refresh_tolerance_bps = 1.5
size_tolerance = 0.5
max_order_age_s = 30
""",
    "glft": """
[strategies.glft]
kind = "glft"
markets = ["rp:BTC/USDT"]
skew_at_max_inventory_bps = 12
max_skew_bps = 20
n_levels = 1
min_spread_bps = 6
max_spread_bps = 8
min_requote_interval_ms = 250
refresh_tolerance_bps = 1.5
max_order_age_s = 30
volatility = { half_life_s = 300, fallback_annual_vol = 0.6 }
intensity = { fallback_a_per_s = 0.5, fallback_kappa_per_bps = 0.5 }
""",
}


@dataclass(frozen=True)
class Run:
    wall_s: float
    cpu_s: float  # user + system time of the child: what the run cost, whatever the load
    summary: dict[str, float]


def backtest(work: Path, strategy: str, feed: str, data: Path, tree: Path | None = None) -> Run:
    config = work / f"{strategy}-{feed}.toml"
    config.write_text(VENUE.format(feed=feed) + STRATEGIES[strategy])
    out = work / f"out-{strategy}-{feed}-{data.stem}"
    cmd = [sys.executable, "-m", "bot.cli", "backtest", "--config", str(config), "--data", str(data)]
    # the code measured is the tree's alone: first on the path, and not shadowed by the working
    # directory (`python -m` puts it first), so the child runs in the scratch directory
    env = dict(os.environ, PYTHONPATH=str(tree or REPO))
    cpu0 = _children_cpu_s()
    t = time.perf_counter()
    proc = subprocess.run(
        [*cmd, "--out", str(out), "--quiet"], capture_output=True, text=True, check=False, env=env, cwd=work
    )
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr}")
    return Run(wall, _children_cpu_s() - cpu0, json.loads(proc.stdout[: proc.stdout.rindex("}") + 1]))


def _compile_bytecode(tree: Path) -> None:
    """Every module's bytecode written first, as an installed package has it: with
    PYTHONDONTWRITEBYTECODE set (some containers and CI images) each run would otherwise compile
    our ~200 modules again, ~0.4 s of every start-up that a user's installation does not pay."""
    packages = [str(tree / p) for p in ("bot", "connectors", "strategies", "amm") if (tree / p).is_dir()]
    subprocess.run([sys.executable, "-m", "compileall", "-q", *packages], check=True)


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(
    work: Path, strategy: str, feed: str, files: dict[int, Path], rows: int, tree: Path | None
) -> tuple[float, float, str]:
    """(rows/s of CPU time without the start-up, with it, the line to print)."""
    startup = backtest(work, strategy, feed, files[2_000], tree)
    run = backtest(work, strategy, feed, files[rows], tree)
    rate = rows / max(run.wall_s - startup.wall_s, 1e-9)
    cpu_rate = rows / max(run.cpu_s - startup.cpu_s, 1e-9)
    return (
        cpu_rate,
        rows / run.cpu_s,
        (
            f"{rate:,.0f} rows/s wall, {cpu_rate:,.0f} rows/s of CPU time ({rows:,} rows in "
            f"{run.wall_s:.1f} s wall / {run.cpu_s:.1f} s CPU, start-up {startup.wall_s:.1f} s / "
            f"{startup.cpu_s:.1f} s; with it {rows / run.wall_s:,.0f} rows/s wall, "
            f"{rows / run.cpu_s:,.0f} CPU); "
            f"{run.summary['orders']:,} orders, {run.summary['fills']:,} fills"
        ),
    )


def measure_case(
    work: Path,
    strategy: str,
    feed: str,
    files: dict[int, Path],
    rows: int,
    trees: list[tuple[str, Path | None]],
    repeat: int,
) -> list[float]:
    """Each tree `repeat` times, alternating; prints every run and the spread. This tree's end
    to end rows/s of CPU time come back."""
    ends: dict[str, list[float]] = {name: [] for name, _ in trees}
    ratios: list[float] = []
    for r in range(repeat):
        rates = []
        for name, tree in trees:
            rate, end_to_end, line = measure(work, strategy, feed, files, rows, tree)
            rates.append(rate)
            ends[name].append(end_to_end)
            run = f" (run {r + 1}/{repeat})" if repeat > 1 else ""
            print(f"{strategy} {feed}, {name}{run}: {line}", flush=True)
        if len(rates) == 2:
            ratios.append(rates[0] / rates[1])
            print(f"  this tree / reference (CPU time): x{ratios[-1]:.2f}")
    if repeat > 1:
        for name, values in ends.items():
            print(f"  {name}, end to end, rows/s of CPU time over {repeat} runs: {_spread(values, ',.0f')}")
        if ratios:
            print(f"  this tree / reference over {repeat} runs: x{_spread(ratios, '.2f')}")
    return ends[trees[0][0]]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--exact-rows", type=int, default=200_000, help="every_update runs on this prefix")
    parser.add_argument("--strategies", default="fixed_spread,glft")
    parser.add_argument("--reference-tree", type=Path, default=None, help="the code to compare with")
    parser.add_argument("--repeat", type=int, default=1, help="measure each case this many times")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        synth = SyntheticParams(rows=args.rows, levels=20, mean_interval_ms=1.8, feed_latency_ms=1.0, seed=42)
        data = generate(synth)
        files = {}
        for n in (2_000, args.exact_rows, args.rows):
            part = data if n == len(data) else _prefix(data, n)
            files[n] = save_events(work / f"rows-{n}.npz", part)
        span_s = (data.end_ns - data.start_ns) / 1e9
        print(f"data: {len(data):,} rows ({span_s:,.0f} s of feed), 20 levels, tick 0.01, 1.8 ms apart")
        print(f"load average at start: {os.getloadavg()[0]:.1f} ({os.cpu_count()} CPUs)")
        trees: list[tuple[str, Path | None]] = [("this tree", None)]
        if args.reference_tree is not None:
            trees.append((f"reference {args.reference_tree}", args.reference_tree.resolve()))
        strategies = args.strategies.split(",")
        for _, tree in trees:  # a tree's first runs compile numba's kernels into its cache: not start-up
            _compile_bytecode(tree or REPO)
            for feed in ("top_moves", "every_update"):
                backtest(work, strategies[0], feed, files[2_000], tree)
        for strategy in strategies:
            for feed, rows in (("top_moves", args.rows), ("every_update", args.exact_rows)):
                ends = measure_case(work, strategy, feed, files, rows, trees, args.repeat)
                if feed == "top_moves":
                    share = statistics.median(ends) / TARGET_ROWS_S
                    target = f"{TARGET_ROWS_S:,} rows/s target"
                    print(f"  this tree: x{share:.2f} of the {target}, end to end on CPU time (median)")
        print(f"load average at end: {os.getloadavg()[0]:.1f}")


def _spread(values: list[float], fmt: str) -> str:
    """median (min-max) of a run's figures."""
    return f"{statistics.median(values):{fmt}} ({min(values):{fmt}}-{max(values):{fmt}})"


def _prefix(data: EventData, n: int) -> EventData:
    cols = {name: col[:n].copy() for name, col in data.columns().items()}
    return EventData(data.meta, **cols)


if __name__ == "__main__":
    main()
