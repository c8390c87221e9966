"""The shared test kit: what tests in more than one folder build their cases from.

This module: small bot configs on mock venues, store helpers (orders a dead process left, the
inventory its fills add up to) and the environment of `python -m bot.cli` children. Beside it:
  stubs        domain objects and venue events with sensible defaults (bot/core)
  fake_venue   an in-memory, deterministic `Venue` for kernel and strategy tests
  recorder     an event sink that keeps what a venue streams and waits for what a test expects
  replay_rows  hand-built L2 event files for the replay venue
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from bot.app.config import AppConfig, validate_config
from bot.core.domain import Balance, Market, Order, OrderRequest, OrderState
from bot.core.ids import client_order_seq
from bot.kernel.store import Store

MOCK_VENUE: dict[str, Any] = {
    "kind": "mock",
    "seed": 3,
    "order_latency_ms": 20,
    "feed_latency_ms": 10,
    "initial_balances": {"USDT": "50000", "BTC": "1", "ETH": "10"},
    "markets": [
        {
            "symbol": "BTC/USDT",
            "tick_size": "0.1",
            "lot_size": "0.001",
            "initial_price": "60000",
            "noise_taker_rate_per_s": 1.0,
        },
        {
            "symbol": "ETH/USDT",
            "tick_size": "0.01",
            "lot_size": "0.01",
            "initial_price": "3000",
            "noise_taker_rate_per_s": 1.0,
        },
    ],
}


def small_config_dict(db_url: str, venues: tuple[str, ...] = ("va", "vb")) -> dict[str, Any]:
    data: dict[str, Any] = {
        "bot": {
            "instance_id": "t1",
            "database_url": db_url,
            "clock": "simulated",
            "summary_interval_s": 60,
            "snapshot_interval_s": 30,
        },
        "venues": {},
        "markets": [],
        "strategies": {
            "mm": {
                "kind": "fixed_spread",
                "markets": [],
                "half_spread_bps": 3,
                "n_levels": 2,
                "level_spacing_bps": 3,
                "skew_bps_per_unit_inventory_fraction": 6,
                "refresh_tolerance_bps": 1.5,
                "min_requote_interval_ms": 250,
            }
        },
        "risk": {"max_order_notional": "5000", "max_total_position_notional": "50000", "max_open_orders": 40},
    }
    for i, name in enumerate(venues):
        venue = copy.deepcopy(MOCK_VENUE)
        venue["seed"] = 3 + i
        data["venues"][name] = venue
        for sym, size, limit in (("BTC/USDT", "0.005", "0.1"), ("ETH/USDT", "0.1", "2")):
            data["markets"].append({"venue": name, "symbol": sym, "order_size": size, "max_position": limit})
            data["strategies"]["mm"]["markets"].append(f"{name}:{sym}")
    return data


def small_config(tmp_path: Path, **kw: Any) -> AppConfig:
    return validate_config(small_config_dict(f"sqlite:///{tmp_path}/bot.sqlite", **kw))


def inventory_from_store(store: Store, venue: str, initial: dict[str, Decimal]) -> dict[str, Decimal]:
    """Initial balances plus every stored fill (fees in the asset they were charged in)."""
    out = dict(initial)
    for f in store.fills(venue):
        base, quote = f.symbol.split("/")
        size, notional = Decimal(f.size), Decimal(f.price) * Decimal(f.size)
        sign = 1 if f.side == "buy" else -1
        out[base] = out.get(base, Decimal(0)) + sign * size
        out[quote] = out.get(quote, Decimal(0)) - sign * notional
        out[f.fee_asset] = out.get(f.fee_asset, Decimal(0)) - Decimal(f.fee)
    return out


def record_order(
    store: Store, market: Market, of: OrderRequest, states: Sequence[OrderState], ts_ns: int
) -> Order:
    """Store our order `of` and then each of `states` at `ts_ns`, as a process that died after
    writing them would have left its rows (restart and reconciliation tests)."""
    order = Order(of, created_ns=ts_ns)
    instance_id = of.client_order_id.split("-")[0]
    seq = client_order_seq(instance_id, of.client_order_id)
    assert seq is not None, f"{of.client_order_id} is not an id of ours (bot/core/ids.py)"
    store.record_new_order(order, market, seq=seq)
    for state in states:
        order.transition(state, ts_ns)
        store.record_order_state(order)
    return order


def totals(balances: dict[str, Balance]) -> dict[str, Decimal]:
    return {asset: b.total for asset, b in balances.items()}


REPO_ROOT = Path(__file__).resolve().parents[2]


def child_env(**extra: str) -> dict[str, str]:
    """Environment for `python -m bot.cli` children: this checkout's code first on the path.

    An editable install may point at another checkout; the tests must exercise this one.
    """
    import os

    env = dict(os.environ, **extra)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH", "")]))
    return env
