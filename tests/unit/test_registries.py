"""The venue and strategy registries: each row's key is its model's `kind`, and the config accepts
exactly the kinds the registries list, in their order."""

from decimal import Decimal
from typing import get_args

import pytest

from amm.sim.params import SimPoolParams
from bot.app.config import validate_config
from bot.app.strategy_wiring import build_strategies
from bot.core.clock import FixedClock
from bot.core.config_base import ConfigError
from bot.core.domain import Market
from bot.kernel.market_state import MarketState
from connectors.mock.venue import MockVenue
from connectors.registry import VENUE_KINDS, PoolKind, build_venue, is_live, is_pool, venue_kind_name
from strategies.quoting.core_strategy import CoreQuoteStrategy
from strategies.registry import STRATEGY_KINDS, ActiveKind, QuotingKind
from tests.kit import small_config_dict


@pytest.mark.parametrize("table", [VENUE_KINDS, STRATEGY_KINDS], ids=["venues", "strategies"])
def test_each_row_is_keyed_by_its_models_kind(table):
    for kind, row in table.items():
        assert get_args(row.params.model_fields["kind"].annotation) == (kind,)


def test_an_unknown_kind_is_refused_naming_every_registered_kind(tmp_path):
    data = small_config_dict(f"sqlite:///{tmp_path}/bot.sqlite", venues=("va",))
    data["venues"]["va"]["kind"] = "nope"
    data["strategies"]["mm"]["kind"] = "nope"
    with pytest.raises(ConfigError) as err:
        validate_config(data)
    text = str(err.value)
    for table in (VENUE_KINDS, STRATEGY_KINDS):
        assert ", ".join(f"'{kind}'" for kind in table) in text


def test_roles_of_the_registered_kinds():
    assert {k for k, row in VENUE_KINDS.items() if isinstance(row, PoolKind)} == {"sim_pool", "uniswap_v3"}
    assert {k for k, row in STRATEGY_KINDS.items() if isinstance(row, QuotingKind)} == {
        "fixed_spread",
        "avellaneda",
        "glft",
        "multi_venue_mm",
    }
    assert all(isinstance(row, QuotingKind | ActiveKind) for row in STRATEGY_KINDS.values())


def test_venues_are_built_through_their_row(tmp_path):
    config = validate_config(small_config_dict(f"sqlite:///{tmp_path}/bot.sqlite", venues=("va",)))
    params = config.venues["va"]
    assert (venue_kind_name(params), is_pool(params), is_live(params)) == ("mock", False, False)
    venue = build_venue("va", params, FixedClock())
    assert isinstance(venue, MockVenue) and venue.name == "va"
    with pytest.raises(ValueError, match=r"venues\.uni: an AMM pool is not an order-book venue"):
        build_venue("uni", SimPoolParams(), FixedClock())


@pytest.mark.parametrize(
    ("clock", "ops_enabled", "tracked"),
    [("wall", True, True), ("simulated", True, False), ("wall", False, False)],
)
def test_strategies_feed_disabled_toxicity_only_where_an_ops_endpoint_reads_it(
    tmp_path, clock, ops_enabled, tracked
):
    """Off (the default), toxicity only reaches /metrics: a run without an ops endpoint (any
    simulated-clock run, a backtest) does not update it; enabled, it moves quotes and is fed anyway."""
    data = small_config_dict(f"sqlite:///{tmp_path}/bot.sqlite", venues=("va",))
    data["bot"] |= {"clock": clock, "ops": {"enabled": ops_enabled}}
    config = validate_config(data)
    markets = [
        Market("va", sym, "X", "USDT", Decimal("0.01"), Decimal("0.001")) for sym in ("BTC/USDT", "ETH/USDT")
    ]
    state = MarketState(markets, [5, 5], [100, 100])
    ((built, _),) = build_strategies(config, state, 0).quoting
    assert isinstance(built, CoreQuoteStrategy) and built.tracks_toxicity is tracked
    assert ("toxicity_bid_bps" in built.quote_diagnostics()) is tracked
    data["strategies"]["mm"]["toxicity"] = {"enabled": True}
    ((built, _),) = build_strategies(validate_config(data), state, 0).quoting
    assert isinstance(built, CoreQuoteStrategy) and built.tracks_toxicity
