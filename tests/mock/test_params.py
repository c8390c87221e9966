from decimal import Decimal as D

import pytest
from pydantic import ValidationError

from connectors.mock.params import MockMarketParams, MockVenueParams

MINIMAL = {"symbol": "BTC/USDT", "tick_size": "0.01", "lot_size": "0.001", "initial_price": "60000"}


def _error_locs(exc: ValidationError) -> set[tuple]:
    return {tuple(e["loc"]) for e in exc.errors()}


def test_a_market_needs_only_symbol_tick_lot_and_price():
    market = MockMarketParams(**MINIMAL)
    assert (market.base, market.quote, market.tick_size) == ("BTC", "USDT", D("0.01"))
    built = market.to_market("paper")
    assert (built.key, built.maker_fee_bps, built.taker_fee_bps) == ("paper:BTC/USDT", D(1), D(5))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("tick_size", "0"),
        ("lot_size", "-0.001"),
        ("initial_price", "0"),
        ("volatility_annual", -0.1),
        ("noise_taker_rate_per_s", -1),
        ("book_levels", 0),
        ("symbol", "btcusdt"),
        ("symbol", "BTC/BTC"),
        ("maker_fee_bps", "-101"),
    ],
)
def test_bad_market_values_are_reported_by_field(field, value):
    with pytest.raises(ValidationError) as info:
        MockMarketParams(**{**MINIMAL, field: value})
    assert _error_locs(info.value) == {(field,)}


def test_unknown_fields_are_refused():
    with pytest.raises(ValidationError) as info:
        MockMarketParams(**MINIMAL, tick="0.01")
    assert _error_locs(info.value) == {("tick",)}


def test_ladder_deeper_than_the_price_is_refused():
    with pytest.raises(ValidationError, match="deepest bid"):
        MockMarketParams(**MINIMAL, book_levels=100, book_level_spacing_bps=200)


def test_venue_params_validate_markets_and_balances_with_field_paths():
    with pytest.raises(ValidationError) as info:
        MockVenueParams(
            markets=[MINIMAL, MINIMAL, {**MINIMAL, "symbol": "ETH/USDT", "lot_size": "0"}],
            initial_balances={"USDT": "-5"},
            feed_latency_ms=-1,
        )
    assert _error_locs(info.value) == {
        ("markets", 2, "lot_size"),
        ("initial_balances",),
        ("feed_latency_ms",),
    }
    with pytest.raises(ValidationError, match="duplicate market symbol 'BTC/USDT'"):
        MockVenueParams(markets=[MINIMAL, MINIMAL])
    with pytest.raises(ValidationError) as info:
        MockVenueParams(markets=[])
    assert _error_locs(info.value) == {("markets",)}
    params = MockVenueParams(markets=[MINIMAL], initial_balances={"USDT": "1000.5"})
    assert params.kind == "mock" and params.initial_balances == {"USDT": D("1000.5")}
