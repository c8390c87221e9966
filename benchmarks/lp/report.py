"""Tables of the fair benchmark: per (σ, fee tier) each strategy's components mean ± standard
error, unhedged and hedged, and the paired differences ours hedged − each hedged baseline."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence

import numpy as np

from amm.attribution import PnlAttribution
from benchmarks.lp.market import Scenario
from benchmarks.lp.run import CHARM, FULL_RANGE, OURS, OURS_COLD, OURS_HEDGED, OURS_SEEDED, Outcome

Metric = Callable[[PnlAttribution], float]
COLUMNS: tuple[tuple[str, Metric], ...] = (
    ("fees", lambda a: a.fees_token1),
    ("LVR", lambda a: a.lvr_token1),
    ("gas", lambda a: a.gas_token1),
    ("swap", lambda a: a.swap_cost_token1),
    ("hedge", lambda a: a.hedge_cost_token1),
    ("net", lambda a: a.net_token1),
    ("total", lambda a: a.total_token1),
)
CELL = 14
# in the hedged table, ours is its hedged run
ROW_LABELS = {OURS_HEDGED: OURS, OURS_SEEDED: "ours, seeded", OURS_COLD: "ours, cold"}
# the first starts a `--cold` run adds: (strategy, prefix of its paired rows, title of its headline)
FIRST_STARTS = (
    (OURS_SEEDED, "seeded: ", "first start seeded from 6 h of history (no warm-up watched)"),
    (OURS_COLD, "cold: ", "cold start (no warm-up watched, no history)"),
)


def mean_se(values: Sequence[float]) -> tuple[float, float]:
    x = np.asarray(values, dtype=np.float64)
    se = float(np.std(x, ddof=1) / math.sqrt(len(x))) if len(x) > 1 else math.nan
    return float(np.mean(x)), se


def cell(values: Sequence[float]) -> str:
    m, se = mean_se(values)
    return f"{m:.1f}±{se:.1f}".rjust(CELL)


def verdict(diff: float, se: float) -> str:
    """win beyond +2 SE, lose beyond −2 SE, tie in between."""
    if not math.isfinite(se):
        return "n/a"
    return "win" if diff > 2 * se else "lose" if diff < -2 * se else "tie"


Runs = dict[str, list[Outcome]]  # strategy → outcomes sorted by path


def group(outcomes: Iterable[Outcome]) -> dict[Scenario, Runs]:
    grouped: dict[Scenario, Runs] = defaultdict(lambda: defaultdict(list))
    for o in outcomes:
        grouped[o.job.scenario][o.job.strategy].append(o)
    for runs in grouped.values():
        for rows in runs.values():
            rows.sort(key=lambda o: o.job.path)
    return grouped


def ours(runs: Runs, hedged: bool) -> str:
    """Ours unhedged, or hedged as its own run told of the hedge (when the run has one)."""
    return OURS_HEDGED if hedged and OURS_HEDGED in runs else OURS


def best_fixed(runs: Runs, hedged: bool) -> str | None:
    """The fixed width with the best mean net on these very paths (hindsight: an upper bound)."""
    fixed = [s for s in runs if s.startswith("fixed")]
    if not fixed:
        return None
    return max(
        fixed, key=lambda s: mean_se([(o.hedged if hedged else o.unhedged).net_token1 for o in runs[s]])[0]
    )


def _strategy_rows(runs: Runs, hedged: bool) -> list[str]:
    best = best_fixed(runs, hedged)
    first = [name for name, _, _ in FIRST_STARTS] if hedged else []
    names = [ours(runs, hedged), *first, FULL_RANGE, CHARM] + ([best] if best else [])
    lines = []
    for name in names:
        rows = runs.get(name, [])
        if not rows:
            continue
        attrs = [o.hedged if hedged else o.unhedged for o in rows]
        label = f"{name}*" if name == best else ROW_LABELS.get(name, name)
        cells = "".join(cell([f(a) for a in attrs]) for _, f in COLUMNS)
        acts, trades = mean_se([o.actions for o in rows])[0], mean_se([o.hedge_trades for o in rows])[0]
        tail = f"{acts:6.1f}{trades:8.0f}" if hedged else f"{acts:6.1f}"
        lines.append(f"  {label:<16}{cells}{tail}")
    return lines


def paired_difference(
    mine: Sequence[Outcome], base: Sequence[Outcome], metric: Metric
) -> tuple[float, float]:
    """Mean ± SE over paths of metric(mine's hedged) − metric(base's hedged), the runs paired by path."""
    assert [o.job.path for o in base] == [o.job.path for o in mine], "runs must pair by path"
    return mean_se([metric(a.hedged) - metric(b.hedged) for a, b in zip(mine, base, strict=True)])


def _paired_rows(runs: Runs, mine_name: str, prefix: str = "") -> list[str]:
    mine = runs.get(mine_name, [])
    best = best_fixed(runs, hedged=True)
    lines = []
    for name in [FULL_RANGE, CHARM] + ([best] if best else []):
        base = runs.get(name, [])
        if not mine or len(base) != len(mine):
            continue
        label = prefix + (f"{name}* (upper bound)" if name == best else name)
        parts = []
        for metric in (lambda a: a.net_token1, lambda a: a.total_token1):
            diff, se = paired_difference(mine, base, metric)
            parts.append(f"{diff:10.1f} ± {se:6.1f}  {verdict(diff, se):<5}")
        lines.append(f"  {label:<36}" + "   ".join(parts))
    return lines


def _grid_line(runs: Runs) -> str:
    fixed = sorted((s for s in runs if s.startswith("fixed")), key=lambda s: runs[s][0].job.half_width)
    cells = []
    for name in fixed:
        m, se = mean_se([o.hedged.net_token1 for o in runs[name]])
        cells.append(f"{name.removeprefix('fixed ')} {m:.1f}±{se:.1f}")
    return "  fixed-width grid, hedged net: " + " | ".join(cells)


def scenario_table(scenario: Scenario, runs: Runs) -> str:
    paths = len(runs.get(OURS, next(iter(runs.values()))))
    header = "".join(name.rjust(CELL) for name, _ in COLUMNS)
    out = [
        f"== {scenario.label}: {paths} paths × {scenario.days:g} days; token1 per path on 30,000 "
        "(mean ± standard error across paths) ==",
        f"unhedged (total = PnL vs holding the starting wallet)\n  {'':<16}{header}{'acts':>6}",
        *_strategy_rows(runs, hedged=False),
        f"hedged (total = PnL vs the starting value in cash)\n  {'':<16}{header}{'acts':>6}{'hedges':>8}",
        *_strategy_rows(runs, hedged=True),
        f"ours hedged − baseline hedged, paired by path\n  {'':<36}{'Δnet ± SE':>19}  verdict"
        f"   {'Δtotal ± SE':>19}  verdict",
        *_paired_rows(runs, ours(runs, hedged=True)),
        *(row for name, prefix, _ in FIRST_STARTS for row in _paired_rows(runs, name, prefix)),
    ]
    if any(s.startswith("fixed") for s in runs):
        out.append(_grid_line(runs))
    return "\n".join(out)


def headline(grouped: dict[Scenario, Runs]) -> str:
    """Per scenario, Δnet ± SE and the verdict of ours hedged against each baseline (and of the
    first starts, when the run has them)."""
    lines = [_headline(grouped, None, "headline: ours hedged − hedged baseline, Δnet ± SE (verdict)")]
    for name, _, title in FIRST_STARTS:
        if any(name in runs for runs in grouped.values()):
            lines.append(_headline(grouped, name, f"{title}: ours hedged − hedged baseline"))
    return "\n\n".join(lines)


def _headline(grouped: dict[Scenario, Runs], mine_name: str | None, title: str) -> str:
    lines = [title]
    for sc in sorted(grouped, key=lambda s: s.sort_key):
        runs = grouped[sc]
        mine = runs.get(mine_name or ours(runs, hedged=True), [])
        best = best_fixed(runs, hedged=True)
        parts = []
        for name in [FULL_RANGE, CHARM] + ([best] if best else []):
            base = runs.get(name, [])
            if not mine or len(base) != len(mine):
                continue
            diff, se = mean_se(
                [a.hedged.net_token1 - b.hedged.net_token1 for a, b in zip(mine, base, strict=True)]
            )
            short = "best fixed" if name == best else name
            parts.append(f"vs {short} {diff:+.1f} ± {se:.1f} ({verdict(diff, se)})")
        lines.append(f"  {sc.label:<24} " + "; ".join(parts))
    return "\n".join(lines)
