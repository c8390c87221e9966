"""LP and hedge lines of `mmbot status`, from the LP store tables."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from bot.lp_store import LpStore
from bot.store import Store


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
    return {"pools": dict(pools), "hedges": dict(hedges)}


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
    for name, h in sorted(status["hedges"].items()):
        lines.append(
            f"hedge {name} on {h['market']}: {h['trades']} trades ({h['maker']} maker), "
            f"position {h['position']:+.4f}, fees {h['fees']:.4f}, cost {h['cost']:.4f}"
        )
    return lines
