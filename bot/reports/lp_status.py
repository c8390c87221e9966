"""LP and hedge lines of `mmbot status`, from the LP store tables.

Per position, the PnL attribution of `amm.attribution` from the stored rows: fees (collected rows
of its token id, plus the uncollected fees of its last mark), gas and swap cost, realised LVR (its
mark: the markout of the pool's trades against the CEX fair; "n/a" for a position stored before
marks existed) and the hedge cost. Gas rows carry no token id: a position owns the swap, the mint
and their token approvals at its opening instant, the decrease / collect / burn at its closing
instant and everything strictly between. A hedge trade's cost is shared equally by the positions
open at its timestamp (exact when one pool is hedged), plus the funding or borrow carry the hedger
charged it (`lp_hedge_carry`, stored at most a minute behind the running bot's books in
`strategies.lp.accounts`, which /metrics exports).
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

from amm.attribution import PnlAttribution
from bot.kernel.lp_store import LpGasRow, LpPositionRow, LpStore
from bot.kernel.store import Store

OPENING_OPS = frozenset({"swap", "mint", "approve"})  # the token approvals the opening needed
CLOSING_OPS = frozenset({"decrease_liquidity", "collect", "burn"})


def owns_gas(position: LpPositionRow, gas: LpGasRow) -> bool:
    if (gas.strategy, gas.pool) != (position.strategy, position.pool):
        return False
    closed = math.inf if position.closed_ns is None else position.closed_ns
    if gas.ts_ns == position.opened_ns:
        return gas.operation in OPENING_OPS
    if gas.ts_ns == closed:
        return gas.operation in CLOSING_OPS
    return position.opened_ns < gas.ts_ns < closed


def _is_open_at(position: LpPositionRow, ts_ns: int) -> bool:
    return position.opened_ns <= ts_ns and (position.closed_ns is None or ts_ns < position.closed_ns)


def position_attribution(lp: LpStore) -> list[dict[str, Any]]:
    """One entry per stored position: its attribution figures in token1 (None: LVR not stored)."""
    positions = lp.positions()
    marks = lp.marks()
    gas_rows = lp.gas()
    fees_by_token: dict[tuple[str, str, int], float] = defaultdict(float)
    for fee in lp.fees():
        fees_by_token[(fee.strategy, fee.pool, fee.token_id)] += fee.value_token1
    hedge_cost: dict[int, float] = defaultdict(float)
    for trade in lp.hedge_trades():
        holders = [p.id for p in positions if _is_open_at(p, trade.ts_ns)]
        for row_id in holders:
            hedge_cost[row_id] += trade.cost_quote / len(holders)  # type: ignore[index]
    carry = lp.hedge_carry()
    out = []
    for p in positions:
        assert p.id is not None
        mark = marks.get(p.id)
        attribution = PnlAttribution(
            fees_token1=fees_by_token[(p.strategy, p.pool, p.token_id)]
            + (0.0 if mark is None else mark.pending_fees_token1),
            lvr_token1=0.0 if mark is None else mark.lvr_realized_token1,
            gas_token1=sum(g.cost_token1 for g in gas_rows if owns_gas(p, g)),
            hedge_cost_token1=hedge_cost[p.id] + carry.get(p.id, 0.0),
            swap_cost_token1=0.0 if mark is None else mark.swap_cost_token1,
            price_exposure_token1=math.nan,  # needs the price path: not stored
            il_token1=math.nan,
            hodl_value_token1=math.nan,
        )
        out.append(
            {
                "strategy": p.strategy,
                "pool": p.pool,
                "token_id": p.token_id,
                "open": p.closed_ns is None,
                "closed_ns": p.closed_ns,
                "fees_token1": attribution.fees_token1,
                "lvr_token1": None if mark is None else attribution.lvr_token1,
                "lvr_expected_token1": None if mark is None else mark.lvr_expected_token1,
                "gas_token1": attribution.gas_token1,
                "swap_cost_token1": attribution.swap_cost_token1,
                "hedge_cost_token1": attribution.hedge_cost_token1,
                "hedge_carry_token1": carry.get(p.id, 0.0),  # within hedge_cost_token1
                "net_token1": attribution.net_token1,
            }
        )
    return out


def collect_lp_status(store: Store) -> dict[str, Any]:
    lp = LpStore(store)
    positions = lp.positions()
    pools: dict[str, dict[str, Any]] = defaultdict(
        lambda: {
            "open": [],
            "closed": 0,
            "rebalances": 0,
            "refused": 0,
            "fees_token1": 0.0,
            "gas_token1": 0.0,
        }
    )
    for row in positions:
        p = pools[row.pool]
        if row.closed_ns is None:
            p["open"].append(
                {
                    "token_id": row.token_id,
                    "ticks": [row.tick_lower, row.tick_upper],
                    "liquidity": row.liquidity,
                }
            )
        else:
            p["closed"] += 1
    for action in lp.actions():
        pools[action.pool]["rebalances" if action.executed else "refused"] += 1
    for fee in lp.fees():
        pools[fee.pool]["fees_token1"] += fee.value_token1
    for gas in lp.gas():
        pools[gas.pool]["gas_token1"] += gas.cost_token1
    hedges: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"trades": 0, "maker": 0, "position": 0.0, "fees": 0.0, "cost": 0.0}
    )
    for t in lp.hedge_trades():
        h = hedges[t.strategy]
        h["market"] = t.market
        h["trades"] += 1
        h["maker"] += int(t.is_maker)
        h["position"] += float(t.size) * (1 if t.side == "buy" else -1)
        h["fees"] += float(t.fee)
        h["cost"] += t.cost_quote
    return {"pools": dict(pools), "hedges": dict(hedges), "positions": position_attribution(lp)}


def format_lp_status(status: dict[str, Any]) -> list[str]:
    lines = []
    for name, p in sorted(status["pools"].items()):
        ranges = (
            ", ".join(f"#{o['token_id']} [{o['ticks'][0]}, {o['ticks'][1]})" for o in p["open"]) or "flat"
        )
        lines.append(
            f"lp {name}: {ranges} | closed {p['closed']}, actions {p['rebalances']} "
            f"(refused {p['refused']}), fees {p['fees_token1']:.4f}, gas {p['gas_token1']:.4f}"
        )
    for a in status.get("positions", []):
        lvr = "n/a" if a["lvr_token1"] is None else f"{a['lvr_token1']:.4f}"
        expected = "" if a["lvr_expected_token1"] is None else f" (expected {a['lvr_expected_token1']:.4f})"
        carry = a.get("hedge_carry_token1", 0.0)
        lines.append(
            f"  {a['pool']} #{a['token_id']} {'open' if a['open'] else 'closed'}: "
            f"fees {a['fees_token1']:.4f} − LVR {lvr}{expected} − gas {a['gas_token1']:.4f} "
            f"− swap {a['swap_cost_token1']:.4f} − hedge {a['hedge_cost_token1']:.4f}"
            f"{f' (carry {carry:.4f})' if carry else ''} "
            f"= net {a['net_token1']:.4f}{' (without LVR)' if a['lvr_token1'] is None else ''}"
        )
    for name, h in sorted(status["hedges"].items()):
        lines.append(
            f"hedge {name} on {h['market']}: {h['trades']} trades ({h['maker']} maker), "
            f"position {h['position']:+.4f}, fees {h['fees']:.4f}, cost {h['cost']:.4f}"
        )
    return lines


def lp_positions_since(store: Store, since_ns: int) -> list[dict[str, Any]]:
    """The report's LP positions: every one open at some time since `since_ns`, attributed."""
    return [a for a in position_attribution(LpStore(store)) if a["open"] or a["closed_ns"] >= since_ns]


def lp_report_lines(shown: list[dict[str, Any]]) -> list[str]:
    """The report's LP section: a markdown table of its positions (none: no section)."""
    if not shown:
        return []
    lines = [
        "## LP positions (token1: fees − LVR − gas − swap − hedge = net)",
        "",
        "| pool | position | state | fees | LVR | gas | swap | hedge | net |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for a in shown:
        lvr = "n/a" if a["lvr_token1"] is None else f"{a['lvr_token1']:.4f}"
        state = "open" if a["open"] else "closed"
        keys = ("fees_token1", "gas_token1", "swap_cost_token1", "hedge_cost_token1", "net_token1")
        fees, gas, swap, hedge, net = (f"{a[k]:.4f}" for k in keys)
        row = (a["pool"], f"#{a['token_id']}", state, fees, lvr, gas, swap, hedge, net)
        lines.append("| " + " | ".join(row) + " |")
    return [*lines, ""]
