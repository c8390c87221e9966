"""Issue #15 item 7: the baseline and a candidate quoting config as `mmbot backtest` on a recorded
paper session, side by side, for several seeds.

Per seed: the Bot quotes the issue's toxic mock market (benchmarks/quoting_quality.py's MARKET:
BTC/USDT 60,000, sigma 60 %/yr, noise takers 1/s, informed takers 0.5/s with a 2 bps edge and a
10 s horizon; one level of 0.005 BTC, max position 0.1 BTC) on the simulated clock, with the
recording strategy (the baseline by default), while bot/backtest/paper_recorder.py records the
market without us at the venue. Then each config is written as a TOML file with a replay venue on
that recording (same order latency, fees and balances) and run through `load_config` +
`run_backtest`, exactly what `mmbot backtest --config <file>` does; every figure printed is read
from that backtest's report.json (bot/reports: PnL, Sharpe of 1-min PnL, markouts and adverse
selection at 1 s/10 s/1 m/5 m in quote units, the markout curve in bps of notional). The paper
session's own report is printed beside them: the baseline replayed on its own recording gives the
paper session's fills one for one, so the `paper` and `baseline` rows agree when it recorded.

What a replay cannot show: the mock's flow reacting to our quotes (informed takers sweep *our*
price, the ladder re-posts after trading). The candidate meets the takers that came for the
recording strategy's quotes, so read its row as "the market as it was", not as a live rerun.

    PYTHONPATH=. python benchmarks/paper_session_backtest.py                       # 5 seeds x 1 h
    PYTHONPATH=. python benchmarks/paper_session_backtest.py --candidate winner.toml --hours 4
    PYTHONPATH=. python benchmarks/paper_session_backtest.py --seeds 2 --hours 0.1 --out /tmp/psb

`--candidate` is a TOML file holding one quoting strategy: either its keys at the top level
(`kind = "glft"`, ...) or a config with one `[strategies.<name>]` table; its `markets` are
replaced by the recorded market. Default: GLFT as the README recommends (quoting_quality.py's
`glft` row). The configs and each run's report.md stay under --out (default: a temporary folder),
so `mmbot backtest --config <out>/seed1/candidate.toml --out x` reruns any of them.
"""

from __future__ import annotations

import argparse
import copy
import json
import multiprocessing
import tempfile
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import tomli_w

from benchmarks.quoting_quality import (
    BASELINE,
    COMMON,
    MODELS,
    SYMBOL,
    VENUE,
    Job,
    _ratio,
    _spread,
    config_dict,
)
from bot.app.config import load_config, validate_config
from bot.app.lifecycle import Bot
from bot.backtest.paper_recorder import PaperRecorder
from bot.backtest.runner import run_backtest
from bot.core.clock import LoopClock, run_simulated
from bot.kernel.store import Store
from bot.reports.report import MARKOUT_LABELS, write_report
from connectors.mock.params import MockVenueParams
from connectors.mock.venue import MockVenue

BASELINE_STRATEGY: dict[str, Any] = {**COMMON, **MODELS[BASELINE]}
DEFAULT_CANDIDATE: dict[str, Any] = {**COMMON, **MODELS["glft"]}
LABELS = ("paper", "baseline", "candidate")  # paper: the recorded session's own report
# the columns, each read from a report.json: (name, path in the report)
COLUMNS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("pnl", ("total", "net")),
    ("sharpe", ("performance", "sharpe")),
    ("fills", ("total", "fills")),
    *((f"mo_{k}", ("total", f"markout_{k}")) for k in MARKOUT_LABELS),
    ("as_1m", ("total", "adverse_selection_1m")),
    ("as_5m", ("total", "adverse_selection_5m")),
)
BPS_HORIZONS_S = (1.0, 10.0, 60.0, 300.0)  # the report's markout curve (bps of notional) at these
RATIO_COLUMNS = ("pnl", "sharpe", "fills", "as_5m")


@dataclass(frozen=True)
class SeedJob:
    seed: int
    hours: float
    horizon_s: float
    record_with: dict[str, Any]
    candidate: dict[str, Any]
    out_dir: str


def load_candidate(path: Path) -> dict[str, Any]:
    """One quoting strategy's table from a TOML file: top-level keys, or a single [strategies.x]."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    if "strategies" in data:
        tables = list(data["strategies"].values())
        if len(tables) != 1:
            raise SystemExit(f"{path}: give exactly one [strategies.<name>] table ({len(tables)} found)")
        data = tables[0]
    if "kind" not in data:
        raise SystemExit(f"{path}: no `kind` (fixed_spread / avellaneda / glft)")
    return dict(data)


def _paper_config(job: SeedJob, db_url: str) -> dict[str, Any]:
    data = config_dict(Job(BASELINE, False, job.horizon_s, job.seed, job.hours), db_url)
    data["strategies"] = {"mm": {**job.record_with, "markets": [f"{VENUE}:{SYMBOL}"]}}
    return data


def record_paper_session(job: SeedJob, seed_dir: Path) -> tuple[Path, dict[str, Any]]:
    """The Bot on the mock venue for `job.hours` simulated hours; (recording .npz, paper config)."""
    data = _paper_config(job, f"sqlite:///{seed_dir / 'paper.sqlite'}")
    config = validate_config(data)
    params = config.venues[VENUE]
    assert isinstance(params, MockVenueParams)
    epoch_ns = int(config.bot.sim_start.timestamp() * 1e9)
    recorders: list[PaperRecorder] = []

    async def main() -> None:
        venue = MockVenue(VENUE, params, LoopClock(epoch_ns=epoch_ns))
        recorders.append(PaperRecorder(venue, SYMBOL))  # before connect: the first book is recorded
        bot = Bot(config, seed_dir, venues={VENUE: venue})
        await bot.run(duration_s=job.hours * 3600)
        await venue.close()
        bot.store.close()

    run_simulated(main)
    path = recorders[0].save(seed_dir / "paper.npz")
    store = Store(config.bot.database_url)
    try:
        write_report(store, epoch_ns, seed_dir / "paper")
    finally:
        store.close()
    return path, data


def replay_config(paper: dict[str, Any], strategy: dict[str, Any], data_name: str) -> dict[str, Any]:
    """A backtest config of `strategy` on the recording: the paper venue's latency, fees, balances."""
    mock = paper["venues"][VENUE]
    market = mock["markets"][0]
    venue = {
        "kind": "replay", "data": data_name, "queue_model": "risk_averse",
        "order_latency_ms": mock["order_latency_ms"], "maker_fee_bps": market["maker_fee_bps"],
        "taker_fee_bps": market["taker_fee_bps"], "initial_balances": mock["initial_balances"],
    }  # fmt: skip
    bot = {k: v for k, v in paper["bot"].items() if k != "database_url"}  # the backtest sets its own
    return {
        "bot": bot,
        "venues": {VENUE: venue},
        "markets": copy.deepcopy(paper["markets"]),
        "strategies": {"mm": {**strategy, "markets": [f"{VENUE}:{SYMBOL}"]}},
        "risk": copy.deepcopy(paper["risk"]),
    }


def backtest(seed_dir: Path, label: str, data: dict[str, Any]) -> Path:
    """Write `<label>.toml` and run it as `mmbot backtest --config <label>.toml --out <label>`."""
    path = seed_dir / f"{label}.toml"
    path.write_text(tomli_w.dumps(data))
    config = load_config(path)
    run_backtest(config, path.resolve().parent, seed_dir / label, None, str(path))
    return seed_dir / label / "report.json"


def row_from_report(report: dict[str, Any]) -> dict[str, float]:
    """The table's numbers, each read as is from one report.json."""
    row: dict[str, float] = {}
    for name, (section, key) in COLUMNS:
        row[name] = float(report[section][key])
    curve = report["markout_bps"]
    for h in BPS_HORIZONS_S:
        values = [v[curve["horizons_s"].index(h)] for v in curve["markets"].values()]
        row[f"mo_{h:g}s_bps"] = float(values[0]) if values and values[0] is not None else float("nan")
    return row


def run_seed(job: SeedJob) -> tuple[int, dict[str, dict[str, float]]]:
    """One seed: record, backtest the baseline and the candidate; the three reports' rows."""
    seed_dir = Path(job.out_dir) / f"seed{job.seed}"
    seed_dir.mkdir(parents=True, exist_ok=True)
    recording, paper = record_paper_session(job, seed_dir)
    reports = {"paper": seed_dir / "paper" / "report.json"}
    for label, strategy in (("baseline", BASELINE_STRATEGY), ("candidate", job.candidate)):
        reports[label] = backtest(seed_dir, label, replay_config(paper, strategy, recording.name))
    return job.seed, {label: row_from_report(json.loads(p.read_text())) for label, p in reports.items()}


# ---- the table ---------------------------------------------------------------------------------

Rows = dict[int, dict[str, dict[str, float]]]  # seed -> label -> column -> value


def _mean(values: list[float]) -> float:
    """Mean over the seeds that have the figure (a 5-min markout needs a run longer than 5 min)."""
    finite = [v for v in values if np.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


def table(rows: Rows, recorded_with: str = "baseline") -> str:
    seeds = sorted(rows)
    names = [n for n, _ in COLUMNS] + [f"mo_{h:g}s_bps" for h in BPS_HORIZONS_S]
    lines = [
        f"mean over {len(seeds)} seeds (pnl, markouts mo_* and adverse selection as_* in quote units "
        "from each report's totals; mo_*_bps: the report's markout curve, bps of notional)",
        f"{'config':10s} " + " ".join(f"{n:>10s}" for n in names),
    ]
    for label in LABELS:
        means = [_mean([rows[s][label][n] for s in seeds]) for n in names]
        lines.append(f"{label:10s} " + " ".join(f"{m:10.3f}" for m in means))
    lines.append("candidate / baseline, paired by seed: mean ± s.e. [min, max]")
    for name in RATIO_COLUMNS:
        ratios = [_ratio(rows[s]["candidate"][name], rows[s]["baseline"][name]) for s in seeds]
        lines.append(f"  {name:7s} x {_spread(ratios)}")
    # the recording strategy replayed on its own recording: its fills again (a check of the replay)
    same = [rows[s]["paper"]["fills"] == rows[s][recorded_with]["fills"] for s in seeds]
    lines.append(f"{recorded_with} replay fills == paper session fills on {sum(same)}/{len(seeds)} seeds")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidate", type=Path, help="TOML of the candidate strategy (default: GLFT)")
    parser.add_argument("--record-with", choices=("baseline", "candidate"), default="baseline",
                        help="strategy quoting during the paper session (default: baseline)")  # fmt: skip
    parser.add_argument("--seeds", type=int, default=5, help="seeds 1..N (default 5)")
    parser.add_argument("--hours", type=float, default=1.0, help="simulated hours per session (default 1)")
    parser.add_argument("--horizon-s", type=float, default=10.0, help="informed takers' horizon (default 10)")
    parser.add_argument("--workers", type=int, default=2, help="processes, one seed each (default 2)")
    parser.add_argument("--out", type=Path, help="keep configs and reports here (default: a temp dir)")
    args = parser.parse_args()
    candidate = load_candidate(args.candidate) if args.candidate else DEFAULT_CANDIDATE
    record_with = candidate if args.record_with == "candidate" else BASELINE_STRATEGY
    print(f"baseline:  {BASELINE_STRATEGY}\ncandidate: {candidate}\nrecorded with: {args.record_with}")
    with tempfile.TemporaryDirectory(prefix="mmbot-psb-") as tmp:
        out = str(args.out or tmp)
        jobs = [SeedJob(s, args.hours, args.horizon_s, record_with, candidate, out)
                for s in range(1, args.seeds + 1)]  # fmt: skip
        print(f"{len(jobs)} seeds x {args.hours:g} simulated h (informed horizon {args.horizon_s:g} s) on "
              f"{args.workers} processes ...", flush=True)  # fmt: skip
        started = time.perf_counter()
        with multiprocessing.get_context("spawn").Pool(args.workers) as pool:
            rows = dict(pool.imap_unordered(run_seed, jobs))
        print(table(rows, args.record_with))
        print(f"wall {time.perf_counter() - started:.0f} s; configs and reports under {out}")


if __name__ == "__main__":
    main()
