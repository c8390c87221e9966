"""A short soak (benchmarks/soak.py): memory holds live orders only, whatever the history.

The bot quotes Avellaneda-Stoikov on mock markets for simulated time; at every checkpoint the
live-order index must equal the store's open orders and hold nothing closed, and every other
per-order / per-fill structure must stay the size of the live set (not of the orders placed).
The 24-hour, 50-market figures are in docs/reliability.md.
"""

from __future__ import annotations

from benchmarks.soak import run_soak

MARKETS = 3
LEVELS = 2  # soak_config_dict quotes 2 levels a side


def test_memory_holds_only_live_orders_through_a_simulated_soak(tmp_path):
    report = run_soak(hours=0.15, n_markets=MARKETS, db_dir=tmp_path, n_checkpoints=3)

    quoting = report.checkpoints[1:]  # the first is taken before the first quote
    last = report.checkpoints[-1]
    max_live = MARKETS * 2 * LEVELS
    # enough history that a structure keeping closed orders or old fills would show
    assert last.placed > 20 * max_live, last.placed
    assert last.fills > 20 * max_live, last.fills
    for c in quoting:
        s = c.sizes
        assert s["orders.live_vs_store_open"] == 0, c
        assert s["orders.live_not_open"] == 0, c
        assert s["orders.slot_orders"] == s["orders.live"] <= max_live, c
        assert s["orders.stored_fill_lots_not_live"] == 0, c
        assert s["orders.stored_fill_lots"] <= s["orders.live"], c
        assert s["engine.tasks"] <= MARKETS, c  # at most one sync in flight per market
        assert s["engine.listeners"] == 2, c  # the estimators' hook and the mid series recorder
        assert s["store.event_listeners"] == 0, c
        assert s["metrics.spread_captured"] == MARKETS, c
        # labelled metrics: one label set per market, (venue, op) or job, never per order or fill
        prefix = "metrics.labels."
        labels = {k.removeprefix(prefix): v for k, v in s.items() if k.startswith(prefix)}
        assert labels["mmbot_event_to_order_seconds"] <= MARKETS, c
        assert labels["mmbot_venue_request_seconds"] <= 2, c  # one venue: place, cancel
        assert labels["mmbot_job_runs"] <= 4, c  # summary, snapshot, reconcile, housekeeping
        assert labels["mmbot_job_failures"] == 0, c
    # the same sizes at the second and the last checkpoint, a growing history in between
    assert quoting[0].placed < last.placed
    for key in ("engine.listeners", "metrics.spread_captured", "asyncio.tasks"):
        assert quoting[0].sizes[key] == last.sizes[key], key
    # after the stop nothing is open anywhere
    assert (report.venue_open_orders, report.store_open_orders) == (0, 0)
    assert report.store_orders >= last.placed
    assert report.store_fills >= last.fills
