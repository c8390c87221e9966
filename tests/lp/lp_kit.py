"""Configs with a simulated pool following a mock venue, for the LP tests."""

from __future__ import annotations

from typing import Any

from tests.kit import small_config_dict

SIM_POOL: dict[str, Any] = {
    "kind": "sim_pool",
    "token0_symbol": "WETH",
    "token1_symbol": "USDC",
    "fee_pips": 500,
    "initial_price": 3000.0,
    "background": [{"value_token1": 5_000_000.0}],
    "wallet_token0": 5.0,
    "wallet_token1": 15_000.0,
    "gas_price_gwei": 1.0,
    "fair_venue": "va",
    "fair_symbol": "ETH/USDT",
    "noise": {"rate_per_s": 0.05, "mean_size_token1": 5_000.0},
}


def pool_config_dict(db_url: str, **pool_overrides: Any) -> dict[str, Any]:
    """One mock venue `va` (quoted by the fixed-spread mm) and a sim pool `uni` following its ETH."""
    data = small_config_dict(db_url, venues=("va",))
    # Light CEX load: books once a second, ETH only, so an hour of simulated time takes seconds.
    venue = data["venues"]["va"]
    venue["book_publish_interval_ms"] = 1000
    venue["markets"] = [m for m in venue["markets"] if m["symbol"] == "ETH/USDT"]
    data["markets"] = [m for m in data["markets"] if m["symbol"] == "ETH/USDT"]
    data["strategies"]["mm"]["markets"] = ["va:ETH/USDT"]
    data["strategies"]["mm"]["min_requote_interval_ms"] = 1000
    data["venues"]["uni"] = {**SIM_POOL, **pool_overrides}
    return data


def lp_hedge_config_dict(db_url: str, hedge_ratio: float = 1.0) -> dict[str, Any]:
    """The pool with an LP manager, hedged on va:ETH/USDT (no quoting strategy on that market).

    The pool's fee flow is rich (~80 %/yr on full range): the carry-optimal range would be under
    ±1 %, recentred every few minutes, its delta swinging faster than the 0.3 ETH band follows.
    These tests are about the hedge and the accounting, so the range is held at least ±5 %, and
    the entry comes on the first minutes of σ̂ (the default waits ~25 min for it to be known
    within 10 %)."""
    data = pool_config_dict(db_url)
    data["markets"][0]["max_position"] = "20"
    data["risk"]["max_total_position_notional"] = "100000"
    data["strategies"] = {
        "lp": {"kind": "lp_manager", "pools": ["uni"], "initial_sigma": 0.6, "vol_half_life_s": 600,
               "min_half_width": 0.05, "hedge_band_token0": 0.3 if hedge_ratio else 0.0,
               "entry_max_sigma_error": 1.0},
        "hedge": {
            "kind": "hedger", "market": "va:ETH/USDT", "pools": ["uni"], "hedge_ratio": hedge_ratio,
            "band": 0.3, "min_trade_size": 0.05, "max_order_size": 1.0, "check_interval_s": 5,
            "maker_timeout_s": 10,
        },
    }  # fmt: skip
    return data
