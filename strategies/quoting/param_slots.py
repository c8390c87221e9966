"""Strategy configs to the quote core's per-market `QuoteParams` (lots via each market's lot
size, ticks via its tick size)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from bot.core.domain import Market
from strategies.quoting.arrays import QuoteParams
from strategies.quoting.models import MODEL_OF_KIND, QUOTE_MODELS, QuoteConfig, validate_quote_params


def write_slot(
    params: QuoteParams,
    slot: int,
    cfg: QuoteConfig,
    market: Market,
    *,
    level_size_base: float,
    max_inventory_base: float,
    now_ns: int,
) -> None:
    """Fill one market's slot from its config (hot reload edits one slot in place), then validate.

    A `QuoteWorkspace` that quoted with these params needs `prepare(params)` afterwards.
    """
    if cfg.n_levels > params.n_levels:
        raise ValueError(f"{market.key}: n_levels {cfg.n_levels} exceeds the arrays' {params.n_levels}")
    lot = float(market.lot_size)
    model = MODEL_OF_KIND[cfg.kind]
    params.model[slot] = model
    params.tick_size[slot] = float(market.tick_size)
    params.lot_size[slot] = lot
    params.maker_fee_bps[slot] = float(market.maker_fee_bps)
    params.min_spread_bps[slot] = cfg.min_spread_bps
    params.max_spread_bps[slot] = cfg.max_spread_bps
    params.level_spacing_bps[slot] = cfg.level_spacing_bps
    params.level_size_lots[slot] = level_size_base / lot
    params.level_count[slot] = cfg.n_levels
    params.max_inventory_lots[slot] = max_inventory_base / lot
    params.size_shape_eta[slot] = cfg.size_shape_eta
    params.price_band_bps[slot] = math.inf if cfg.price_band_bps is None else cfg.price_band_bps
    # the models' own columns: neutral unless the market's model sets them
    params.half_spread_bps[slot] = 0.0
    params.skew_bps_per_unit_inventory_fraction[slot] = 0.0
    params.gamma[slot] = 1.0
    params.gamma_notional[slot] = 0.0
    params.max_skew_bps[slot] = math.inf
    params.horizon_s[slot] = 0.0
    params.session_end_ns[slot] = 0
    QUOTE_MODELS[model].write_slot(params, slot, cfg, now_ns)
    validate_quote_params(params)


def build_quote_params(
    entries: Sequence[tuple[QuoteConfig, Market, float, float]], *, now_ns: int
) -> QuoteParams:
    """QuoteParams for (config, market, level size base, max inventory base) in slot order.

    The array width is the largest n_levels among them.
    """
    if not entries:
        raise ValueError("build_quote_params: no markets")
    n_levels = max(cfg.n_levels for cfg, *_ in entries)
    params = QuoteParams.uniform(len(entries), n_levels)
    for slot, (cfg, market, size, limit) in enumerate(entries):
        write_slot(params, slot, cfg, market, level_size_base=size, max_inventory_base=limit, now_ns=now_ns)
    return params
