"""Soak: the real Bot on the simulated clock for hours of virtual time on many mock markets.

Memory must not grow with history: closed orders leave memory, dedupe sets and caches stay
bounded. This runs the bot (Avellaneda-Stoikov with its volatility and intensity estimators) on
`--markets` markets spread over mock venues for `--hours` simulated hours and prints, at each
checkpoint, the process RSS and the size of every in-memory per-order / per-fill structure.

    PYTHONPATH=. python benchmarks/soak.py                      # 24 simulated hours, 50 markets
    PYTHONPATH=. python benchmarks/soak.py --hours 2 --markets 5

The structure sizes are exact counts (the test `tests/reliability/test_soak_memory.py` asserts on
them); RSS and wall time are the figures reported in docs/reliability.md.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.app.config import AppConfig, validate_config
from bot.app.lifecycle import Bot
from bot.core.clock import LoopClock, run_simulated
from connectors.mock.venue import MockVenue

MARKETS_PER_VENUE = 10
HOUR_S = 3600


def soak_config_dict(
    db_url: str,
    n_markets: int,
    seed: int = 7,
    taker_rate_per_s: float = 0.5,
    book_interval_ms: float = 100.0,
) -> dict[str, Any]:
    """`n_markets` coins quoted against USDT, at most MARKETS_PER_VENUE per mock venue; the flow
    (noise takers per second per market, book publication interval) sets how many events an hour
    holds, so a long soak can trade fewer events per hour for more hours and markets."""
    venues: dict[str, Any] = {}
    markets: list[dict[str, Any]] = []
    for i in range(n_markets):
        name = f"v{i // MARKETS_PER_VENUE}"
        coin = f"C{i:03d}"
        price = 10 * (1 + i % 7)  # 10 .. 70 USDT
        venue = venues.setdefault(
            name,
            {
                "kind": "mock",
                "seed": seed + i // MARKETS_PER_VENUE,
                "order_latency_ms": 20,
                "feed_latency_ms": 10,
                "book_publish_interval_ms": book_interval_ms,
                "initial_balances": {"USDT": "1000000"},
                "markets": [],
            },
        )
        venue["initial_balances"][coin] = "1000"
        venue["markets"].append(
            {
                "symbol": f"{coin}/USDT",
                "tick_size": "0.001",
                "lot_size": "0.1",
                "initial_price": str(price),
                "noise_taker_rate_per_s": taker_rate_per_s,
            }
        )
        markets.append({"venue": name, "symbol": f"{coin}/USDT", "order_size": "2", "max_position": "40"})
    return {
        "bot": {
            "instance_id": "soak",
            "database_url": db_url,
            "clock": "simulated",
            "summary_interval_s": 600,
            "snapshot_interval_s": 300,
        },
        "venues": venues,
        "markets": markets,
        "strategies": {
            "as": {
                "kind": "avellaneda",
                "markets": [f"{m['venue']}:{m['symbol']}" for m in markets],
                "gamma": 0.05,
                "horizon_s": 60,
                "n_levels": 2,
                "level_spacing_bps": 3,
                "min_requote_interval_ms": 500,
                "refresh_tolerance_bps": 2,
                "volatility": {"fallback_annual_vol": 0.6},
            }
        },
        "risk": {
            "max_order_notional": "10000",
            "max_total_position_notional": "10000000",
            "max_open_orders": 10 * n_markets,
        },
    }


def rss_bytes() -> int:
    """Resident set size of this process now (not the peak)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def structure_sizes(bot: Bot) -> dict[str, int]:
    """Entries in every in-memory structure that could grow with order or fill history."""
    orders, engine, metrics = bot.runtime.orders, bot.runtime.engine, bot.metrics
    sizes = {
        "orders.live": len(orders.live),
        "orders.live_not_open": sum(1 for o in orders.live.values() if o.state.is_terminal),
        "orders.stored_fill_lots": len(orders._stored_fill_lots),
        "orders.slot_orders": sum(len(d) for d in orders._slot_orders),
        # orders in the live index but not open in the store, or open in the store but not indexed
        "orders.live_vs_store_open": len(
            set(orders.live) ^ {row.client_order_id for row in bot.store.open_orders()}
        ),
        "orders.stored_fill_lots_not_live": len(set(orders._stored_fill_lots) - set(orders.live)),
        "engine.tasks": len(engine._tasks),
        "engine.listeners": len(engine.listeners),
        "store.event_listeners": len(bot.store.event_listeners),
        "metrics.spread_captured": len(metrics.spread_captured),
        "scheduler.running": len(bot.scheduler._running),
        "asyncio.tasks": len(asyncio.all_tasks()),
    }
    for collector, names in list(metrics.registry._collector_to_names.items()):
        children = getattr(collector, "_metrics", None)  # labelled metrics: one child per label set
        if children is not None:
            sizes[f"metrics.labels.{names[0]}"] = len(children)
    for name, venue in bot.venues.items():
        if isinstance(venue, MockVenue):
            for key, count in venue.exchange.retained_counts().items():
                sizes[f"venue.{name}.{key}"] = count
    return sizes


@dataclass
class Checkpoint:
    sim_hours: float
    wall_s: float
    rss_bytes: int
    events: int
    placed: int
    fills: int
    sizes: dict[str, int]


@dataclass
class SoakReport:
    hours: float
    n_markets: int
    checkpoints: list[Checkpoint] = field(default_factory=list)
    venue_open_orders: int = 0
    store_open_orders: int = 0
    store_orders: int = 0
    store_fills: int = 0
    wall_s: float = 0.0


def run_soak(
    hours: float,
    n_markets: int,
    db_dir: Path,
    n_checkpoints: int = 4,
    on_checkpoint: Callable[[Checkpoint], None] | None = None,
    taker_rate_per_s: float = 0.5,
    book_interval_ms: float = 100.0,
) -> SoakReport:
    """Run the bot for `hours` simulated hours; checkpoints at start and every hours/n_checkpoints
    (the last one a second before the stop, with the bot still quoting)."""
    data = soak_config_dict(
        f"sqlite:///{db_dir}/soak.sqlite", n_markets, taker_rate_per_s=taker_rate_per_s,
        book_interval_ms=book_interval_ms,
    )  # fmt: skip
    config: AppConfig = validate_config(data)
    report = SoakReport(hours, n_markets)
    started = time.perf_counter()

    def checkpoint(bot: Bot, sim_hours: float) -> None:
        gc.collect()
        report.checkpoints.append(
            Checkpoint(
                sim_hours,
                time.perf_counter() - started,
                rss_bytes(),
                bot.runtime.engine.events_processed,
                bot.runtime.orders.counters.placed,
                bot.runtime.orders.counters.fills,
                structure_sizes(bot),
            )
        )
        if on_checkpoint is not None:
            on_checkpoint(report.checkpoints[-1])

    async def watch(bot: Bot) -> None:
        while not bot.started:
            await asyncio.sleep(1)
        checkpoint(bot, 0.0)
        step_s = hours * HOUR_S / n_checkpoints
        for k in range(1, n_checkpoints + 1):
            # a hair before the stop, so the last checkpoint sees the bot still quoting
            await asyncio.sleep(step_s if k < n_checkpoints else step_s - 1)
            checkpoint(bot, (k * step_s if k < n_checkpoints else k * step_s - 1) / HOUR_S)

    async def main() -> None:
        clock = LoopClock(epoch_ns=int(config.bot.sim_start.timestamp() * 1e9))
        venues = {name: MockVenue(name, params, clock) for name, params in config.venues.items()}
        bot = Bot(config, db_dir, venues=venues)
        watcher = asyncio.create_task(watch(bot))
        await bot.run(duration_s=hours * HOUR_S)
        await watcher
        for venue in venues.values():
            report.venue_open_orders += len(await venue.fetch_open_orders())
            await venue.close()
        report.store_open_orders = len(bot.store.open_orders())
        report.store_orders = bot.store.max_order_seq() or 0
        report.store_fills = len(bot.store.fills())
        bot.store.close()

    run_simulated(main)
    report.wall_s = time.perf_counter() - started
    return report


def _mib(n: int) -> str:
    return f"{n / 2**20:7.1f} MiB"


HEADER = f"{'sim h':>6} {'wall s':>8} {'RSS':>11} {'events':>10} {'placed':>8} {'fills':>7} {'live':>5}"


def checkpoint_line(c: Checkpoint) -> str:
    return (
        f"{c.sim_hours:6.2f} {c.wall_s:8.1f} {_mib(c.rss_bytes)} {c.events:10d} {c.placed:8d} "
        f"{c.fills:7d} {c.sizes['orders.live']:5d}"
    )


def print_report(report: SoakReport) -> None:
    print(f"soak: {report.hours:g} simulated hours, {report.n_markets} markets, wall {report.wall_s:.1f} s")
    first, last = report.checkpoints[0], report.checkpoints[-1]
    print(f"RSS start {_mib(first.rss_bytes)}, end {_mib(last.rss_bytes)}")
    if len(report.checkpoints) > 2:
        second = report.checkpoints[1]
        print(
            f"RSS growth after the first checkpoint: {_mib(last.rss_bytes - second.rss_bytes)} "
            f"for {last.placed - second.placed} more orders "
            f"({report.wall_s / max(report.hours, 1e-9) / 60:.1f} wall min per simulated hour)"
        )
    print("structure sizes (first checkpoint with the bot quoting -> last):")
    base = report.checkpoints[1].sizes if len(report.checkpoints) > 1 else first.sizes
    for key, value in last.sizes.items():
        print(f"  {key:32s} {base.get(key, 0):8d} -> {value:8d}")
    print(
        f"after the stop: venue open orders {report.venue_open_orders}, store open orders "
        f"{report.store_open_orders}, orders stored {report.store_orders}, fills stored {report.store_fills}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=24.0, help="simulated hours (default 24)")
    parser.add_argument("--markets", type=int, default=50, help="markets quoted (default 50)")
    parser.add_argument("--checkpoints", type=int, default=12, help="RSS and size samples")
    parser.add_argument("--taker-rate", type=float, default=0.5, help="noise takers per second per market")
    parser.add_argument("--book-interval-ms", type=float, default=100.0, help="book publication interval")
    args = parser.parse_args()
    print(
        f"soak: {args.hours:g} simulated hours, {args.markets} markets, {args.taker_rate:g} takers/s "
        f"per market, books every {args.book_interval_ms:g} ms",
        flush=True,
    )
    print(HEADER, flush=True)
    with tempfile.TemporaryDirectory(prefix="mmbot-soak-") as tmp:
        report = run_soak(
            args.hours,
            args.markets,
            Path(tmp),
            args.checkpoints,
            on_checkpoint=lambda c: print(checkpoint_line(c), flush=True),
            taker_rate_per_s=args.taker_rate,
            book_interval_ms=args.book_interval_ms,
        )
    print_report(report)


if __name__ == "__main__":
    main()
