"""Config models parse, reject with field names, and translate into per-market arrays."""

from __future__ import annotations

import math

import pytest
from pydantic import TypeAdapter, ValidationError

from strategies.quoting.arrays import QuoteParams
from strategies.quoting.core import QuoteWorkspace
from strategies.quoting.models import QuoteConfig, QuoteModel, QuoteStrategyParams, validate_quote_params
from strategies.quoting.models.avellaneda import AvellanedaParams, next_session_end_ns
from strategies.quoting.models.fixed_spread import FixedSpreadParams
from strategies.quoting.models.glft import GlftParams
from strategies.quoting.param_slots import build_quote_params
from tests.kit import stubs

ADAPTER: TypeAdapter[QuoteConfig] = TypeAdapter(QuoteStrategyParams)
BTC = stubs.market(venue="binance", tick_size="0.01", lot_size="0.00001", maker_fee_bps=1)
ETH = stubs.market("ETH/USDT", "mock", tick_size="0.05")
NS = 1_000_000_000


def test_kind_selects_the_model_and_extra_fields_are_refused_by_name() -> None:
    cfg = ADAPTER.validate_python({"kind": "glft", "gamma": 0.01, "markets": ["v:X/Y"], "n_levels": 3})
    assert isinstance(cfg, GlftParams) and cfg.intensity.fallback_kappa_per_bps == 0.5
    with pytest.raises(ValidationError, match="half_spred_bps"):
        ADAPTER.validate_python({"kind": "fixed_spread", "half_spred_bps": 5, "markets": ["v:X/Y"]})
    with pytest.raises(ValidationError, match="gamma"):
        ADAPTER.validate_python({"kind": "avellaneda", "markets": ["v:X/Y"]})
    with pytest.raises(ValidationError, match="max_spread_bps"):
        FixedSpreadParams(markets=["v:X/Y"], min_spread_bps=50, max_spread_bps=20)
    with pytest.raises(ValidationError, match="depth_edges_bps"):
        GlftParams(gamma=1, markets=["v:X/Y"], intensity={"depth_edges_bps": [0, 2, 1]})


def test_next_session_end() -> None:
    day = 86_400
    assert next_session_end_ns(10 * day * NS, day, 0) == 11 * day * NS  # exactly at an end: the next one
    assert next_session_end_ns(10 * day * NS + 1, day, 3600) == (10 * day + 3600) * NS
    assert next_session_end_ns(10 * day * NS - 1, day, 0) == 10 * day * NS


def test_build_quote_params_converts_units_per_market() -> None:
    fixed = FixedSpreadParams(
        markets=["binance:BTC/USDT"],
        half_spread_bps=8,
        skew_bps_per_unit_inventory_fraction=4,
    )
    avellaneda = AvellanedaParams(
        gamma=0.05,
        markets=["mock:ETH/USDT"],
        n_levels=3,
        horizon="session",
        price_band_bps=80,
    )
    now = 100 * 86_400 * NS + 5 * NS
    params = build_quote_params([(fixed, BTC, 0.002, 0.1), (avellaneda, ETH, 0.5, 20)], now_ns=now)
    assert isinstance(params, QuoteParams) and params.n_levels == 3
    assert list(params.model) == [QuoteModel.FIXED_SPREAD, QuoteModel.AVELLANEDA_STOIKOV]
    assert params.tick_size.tolist() == [0.01, 0.05]
    assert params.level_size_lots.tolist() == pytest.approx([200.0, 500.0])
    assert params.max_inventory_lots.tolist() == pytest.approx([10_000.0, 20_000.0])
    assert params.level_count.tolist() == [1, 3]
    assert params.maker_fee_bps.tolist() == [1.0, 0.0]
    assert params.half_spread_bps[0] == 8 and params.skew_bps_per_unit_inventory_fraction[0] == 4
    assert params.gamma[1] == 0.05 and params.gamma_notional[1] == 0.0
    # the clamp: half of max_spread_bps (500) unless set; none for the fixed spread
    assert params.max_skew_bps.tolist() == [math.inf, 250.0]
    assert params.session_end_ns.tolist() == [0, 101 * 86_400 * NS]
    assert params.price_band_bps[0] == math.inf and params.price_band_bps[1] == 80


def test_quote_params_validation_names_field_and_slot() -> None:
    with pytest.raises(ValueError, match=r"QuoteParams.tick_size\[0\]"):
        QuoteParams.uniform(2, 1, tick_size=0.0)
    params = QuoteParams.uniform(3, 2)
    params.max_spread_bps[2] = -1.0
    with pytest.raises(ValueError, match=r"QuoteParams.max_spread_bps\[2\]"):
        params.validate()
    with pytest.raises(ValueError, match="unknown field"):
        QuoteParams.uniform(1, 1, tick=0.1)


def test_model_rules_hold_wherever_params_meet_the_registry() -> None:
    params = QuoteParams.uniform(3, 1, model=QuoteModel.GLFT)
    assert QuoteParams.uniform(1, 1).model[0] == QuoteModel.FIXED_SPREAD  # the neutral default
    params.model[1] = 7
    params.validate()  # the columns' own rules know no model codes
    with pytest.raises(ValueError, match=r"QuoteParams.model\[1\] = .*7.*: must be a QuoteModel code"):
        validate_quote_params(params)
    with pytest.raises(ValueError, match=r"QuoteParams.model\[1\]"):
        QuoteWorkspace(3, 1).prepare(params)  # the core never dispatches an unknown code
    params.model[1] = QuoteModel.GLFT
    params.gamma[2] = math.inf
    with pytest.raises(ValueError, match=r"QuoteParams.gamma\[2\] = .*inf.*: must be finite and >= 0"):
        validate_quote_params(params)
    params.gamma[2] = 0.0  # no risk aversion in either unit
    with pytest.raises(
        ValueError, match=r"QuoteParams.gamma\[2\] = .*0.0.*: must be > 0 where gamma_notional"
    ):
        validate_quote_params(params)
    params.gamma_notional[2] = 3.0  # per unit of quoted notional instead
    validate_quote_params(params)
    params.gamma_notional[2] = math.nan
    with pytest.raises(
        ValueError, match=r"QuoteParams.gamma_notional\[2\] = .*nan.*: must be finite and >= 0"
    ):
        params.validate()
    params.gamma_notional[2] = 0.0
    params.max_skew_bps[2] = -1.0
    with pytest.raises(ValueError, match=r"QuoteParams.max_skew_bps\[2\].*>= 0 \(inf for no clamp\)"):
        params.validate()
    params.max_skew_bps[2] = math.inf
    params.model[2] = QuoteModel.FIXED_SPREAD  # a model without gamma ignores it
    validate_quote_params(params)
    # a config the pydantic model lets through (gamma = inf) is refused when it is written
    avellaneda = AvellanedaParams(gamma=math.inf, markets=["mock:ETH/USDT"])
    with pytest.raises(ValueError, match=r"QuoteParams.gamma\[0\]"):
        build_quote_params([(avellaneda, ETH, 0.5, 20)], now_ns=0)
