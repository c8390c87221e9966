import pytest
from pydantic import ValidationError

from amm.sim.params import BackgroundRange, SimPoolParams


def test_defaults_are_valid_and_convert_gas_price():
    p = SimPoolParams()
    assert p.kind == "sim_pool" and p.fee_pips == 500
    assert p.gas_price_wei == 20 * 10**9


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"fee_pips": 2500}, "fee_pips"),
        ({"initial_price": 0}, "initial_price"),
        ({"initial_price": 1e-40}, "initial_price"),
        ({"unknown": 1}, "unknown"),
        ({"token1_symbol": "WETH"}, "token1_symbol"),
        ({"noise": {"rate_per_s": -1}}, "rate_per_s"),
        ({"arbitrage": {"enabled": True, "typo": 1}}, "typo"),
        ({"background": [{"lower_price": 10, "upper_price": 5, "value_token1": 1}]}, "lower_price"),
        ({"gas_units": {"swap": -1}}, "swap"),
    ],
)
def test_bad_config_names_the_field(kwargs, field):
    with pytest.raises(ValidationError, match=field):
        SimPoolParams(**kwargs)


def test_background_ranges_parse_from_plain_data():
    p = SimPoolParams.model_validate(
        {
            "background": [
                {"value_token1": 1e6},
                {"lower_price": 2500, "upper_price": 3500, "value_token1": 5e6},
            ]
        }
    )
    assert p.background[1] == BackgroundRange(lower_price=2500, upper_price=3500, value_token1=5e6)
