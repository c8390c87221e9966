"""Volatility estimate of an Avellaneda-Stoikov quoter on the mock venue: old mid vs the fair
without ourselves, requote-driven vs clock sampling (issue #15, point 2).

BTC/USDT at 60,000, σ 60 %/yr, noise takers 1/s, informed takers 0.5/s (10 s horizon, 2 bps
edge), one level of 0.005 BTC, max position 0.1 BTC, the example γ and τ = 60 s. Per run: the
strategy's annualised volatility estimate read every minute after a warm-up, averaged, and the
realised volatility of the venue's latent fair price (1 s log returns) over the same run.

    python benchmarks/fair_volatility.py [--seeds 1 2 3] [--minutes 60]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import statistics
import tempfile
from pathlib import Path
from typing import Any

from bot.app.config import validate_config
from bot.app.lifecycle import Bot
from bot.core.clock import LoopClock, run_simulated
from connectors.mock.venue import MockVenue

SECONDS_PER_YEAR = 365 * 86_400
WARMUP_S = 600
VARIANTS: dict[str, dict[str, Any]] = {
    "mid, at requotes (old)": {"fair_price": "mid", "sample_interval_s": None},
    "mid, on the clock": {"fair_price": "mid", "sample_interval_s": 1.0},
    "mid_ex_own, at requotes": {"fair_price": "mid_ex_own", "sample_interval_s": None},
    "mid_ex_own, on the clock (new)": {"fair_price": "mid_ex_own", "sample_interval_s": 1.0},
    "microprice, on the clock": {"fair_price": "microprice", "sample_interval_s": 1.0},
}


def config(db: str, seed: int, fair_price: str, sample_interval_s: float | None) -> Any:
    market = {
        "symbol": "BTC/USDT", "tick_size": "0.1", "lot_size": "0.001", "initial_price": "60000",
        "volatility_annual": 0.6, "noise_taker_rate_per_s": 1.0, "informed_taker_rate_per_s": 0.5,
        "informed_horizon_s": 10.0, "informed_edge_bps": 2.0,
    }  # fmt: skip
    return validate_config(
        {
            "bot": {
                "instance_id": "fv",
                "database_url": db,
                "clock": "simulated",
                "summary_interval_s": 3600,
            },
            "venues": {
                "sim": {
                    "kind": "mock",
                    "seed": seed,
                    "order_latency_ms": 20,
                    "feed_latency_ms": 10,
                    "initial_balances": {"USDT": "100000", "BTC": "1"},
                    "markets": [market],
                }
            },
            "markets": [{"venue": "sim", "symbol": "BTC/USDT", "order_size": "0.005", "max_position": "0.1"}],
            "strategies": {
                "as": {
                    "kind": "avellaneda",
                    "markets": ["sim:BTC/USDT"],
                    "gamma": 0.01,
                    "horizon_s": 60,
                    "n_levels": 1,
                    "min_requote_interval_ms": 250,
                    "refresh_tolerance_bps": 1.5,
                    "max_order_age_s": 30,
                    "fair_price": fair_price,
                    "volatility": {
                        "half_life_s": 300,
                        "fallback_annual_vol": 0.6,
                        "sample_interval_s": sample_interval_s,
                    },
                    "intensity": {"fallback_a_per_s": 0.5, "fallback_kappa_per_bps": 0.5},
                }
            },
            "risk": {"max_order_notional": "5000", "max_total_position_notional": "50000"},
        }
    )


def run(seed: int, minutes: float, variant: dict[str, Any], tmp: Path) -> tuple[float, float, int]:
    """(mean estimate after warm-up, realised σ of the latent fair, fills) of one run, annualised."""
    cfg = config(f"sqlite:///{tmp}/fv-{seed}-{id(variant)}.sqlite", seed, **variant)

    async def main() -> tuple[float, float, int]:
        clock = LoopClock(epoch_ns=int(cfg.bot.sim_start.timestamp() * 1e9))
        venue = MockVenue("sim", cfg.venues["sim"], clock)
        bot = Bot(cfg, tmp, venues={"sim": venue})
        task = asyncio.create_task(bot.run(duration_s=minutes * 60 + 1))
        while not bot.started:
            await asyncio.sleep(0.01)
        strategy = bot.runtime.engine.strategies[0].strategy
        estimates: list[float] = []
        squares, last = 0.0, None
        for second in range(int(minutes * 60)):
            await asyncio.sleep(1.0)
            assert venue.flow is not None
            price = venue.flow.fair_price("BTC/USDT")
            if last is not None and second >= WARMUP_S:
                squares += math.log(price / last) ** 2
            last = price
            vol = strategy.volatility  # type: ignore[attr-defined]
            if second >= WARMUP_S and second % 60 == 0 and vol.warm[0]:
                estimates.append(math.sqrt(vol.variance_rate[0] / vol.weight[0] * SECONDS_PER_YEAR))
        await task
        fills = bot.runtime.orders.counters.fills
        await venue.close()
        realised = math.sqrt(squares / (minutes * 60 - WARMUP_S) * SECONDS_PER_YEAR)
        return statistics.fmean(estimates), realised, fills

    return run_simulated(main)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.variants:
            rows = [run(seed, args.minutes, VARIANTS[name], Path(tmp)) for seed in args.seeds]
            est = " ".join(f"{r[0]:.3f}" for r in rows)
            real = " ".join(f"{r[1]:.3f}" for r in rows)
            ratio = statistics.fmean(r[0] / r[1] for r in rows)
            print(f"{name:32s} estimate {est} | realised {real} | est/realised {ratio:.3f}", flush=True)


if __name__ == "__main__":
    main()
