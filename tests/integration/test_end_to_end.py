"""The bot on two mock venues, on the simulated clock: quotes, gets filled, stores it all, stops clean."""

from decimal import Decimal

from bot.app.lifecycle import Bot
from bot.core.clock import LoopClock, run_simulated
from bot.core.ids import client_order_prefix
from bot.kernel.store import Store
from connectors.mock.venue import MockVenue
from tests.kit import inventory_from_store, small_config, totals


def test_simulated_run_fills_stores_and_stops_with_nothing_open(tmp_path):
    config = small_config(tmp_path)

    async def main():
        clock = LoopClock(epoch_ns=int(config.bot.sim_start.timestamp() * 1e9))
        venues = {name: MockVenue(name, params, clock) for name, params in config.venues.items()}
        bot = Bot(config, tmp_path, venues=venues)
        await bot.run(duration_s=300)
        final = {name: totals(await v.fetch_balances()) for name, v in venues.items()}
        open_left = {name: await v.fetch_open_orders() for name, v in venues.items()}
        for v in venues.values():
            await v.close()
        return bot, final, open_left

    bot, final, open_left = run_simulated(main)
    store = Store(config.bot.database_url, config.bot.instance_id)
    prefix = client_order_prefix(config.bot.instance_id)
    for name, params in config.venues.items():
        fills = store.fills(name)
        assert len(fills) > 20, f"{name}: only {len(fills)} fills in 300 simulated seconds"
        assert {f.client_order_id[: len(prefix)] for f in fills} == {prefix}
        # Inventory rebuilt from the store's fills equals the venue's balances to the last unit.
        assert inventory_from_store(store, name, dict(params.initial_balances)) == final[name]
        # The final snapshot written at stop is the venue's view, exactly.
        assert totals(store.balance_snapshot(name)) == final[name]
        assert [u for u in open_left[name] if u.client_order_id.startswith(prefix)] == []
    assert store.open_orders() == []
    assert [e.kind for e in store.events()][-1] == "stop"
    assert bot.runtime.orders.counters.duplicate_fills == 0
    # Every fill belongs to an order the store knows, and each order's filled lots equal its fills.
    lots_by_order: dict[str, int] = {}
    for f in store.fills():
        lots_by_order[f.client_order_id] = lots_by_order.get(f.client_order_id, 0) + f.size_lots
    for cid, lots in lots_by_order.items():
        row = store.get_order(cid)
        assert row is not None and row.filled_lots == lots, (cid, row, lots)
        assert row.state in ("filled", "cancelled", "expired")
        assert (row.state == "filled") == (lots == row.size_lots)
    assert sum(Decimal(f.fee) for f in store.fills()) > 0
