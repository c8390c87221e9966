import math

import numpy as np
import pytest

from bot.core.domain import Side
from bot.core.events import PublicTrade
from connectors.mock.exchange import MockExchange
from connectors.mock.flow import NS_PER_S, SECONDS_PER_YEAR, FairPricePath, OrderFlow
from connectors.mock.params import MockMarketParams

BTC = MockMarketParams(symbol="BTC/USDT", tick_size="0.01", lot_size="0.001", initial_price="60000")
ETH = MockMarketParams(symbol="ETH/USDT", tick_size="0.01", lot_size="0.01", initial_price="3000")


def _run(seed: int, seconds: int, markets=(BTC, ETH)) -> tuple[list[PublicTrade], OrderFlow]:
    exchange = MockExchange("mock", [m.to_market("mock") for m in markets])
    trades: list[PublicTrade] = []
    exchange.add_listener(lambda _, e: trades.append(e) if isinstance(e, PublicTrade) else None)
    flow = OrderFlow(exchange, markets, seed, start_ns=0)
    flow.advance_to(seconds * NS_PER_S)
    return trades, flow


def test_same_seed_gives_identical_trades_and_a_different_seed_does_not():
    first, flow_a = _run(7, 300)
    second, flow_b = _run(7, 300)
    other, _ = _run(8, 300)
    assert len(first) > 100
    assert first == second
    assert flow_a.fair_price("BTC/USDT") == flow_b.fair_price("BTC/USDT")
    assert first != other
    assert {t.symbol for t in first} == {"BTC/USDT", "ETH/USDT"}


def test_reading_the_fair_price_at_extra_times_does_not_change_the_takers():
    noise_only = BTC.model_copy(update={"informed_taker_rate_per_s": 0.0})

    def taker_arrivals(read_fair: bool) -> dict[int, Side]:
        exchange = MockExchange("mock", [noise_only.to_market("mock")])
        arrivals: dict[int, Side] = {}
        exchange.add_listener(
            lambda _, e: (
                arrivals.setdefault(e.exchange_ts_ns, e.aggressor) if isinstance(e, PublicTrade) else None
            )
        )
        flow = OrderFlow(exchange, [noise_only], 7, start_ns=0)
        for second in range(1, 301):
            flow.advance_to(second * NS_PER_S)
            if read_fair:
                flow.fair_price("BTC/USDT", second * NS_PER_S + 1)
        return arrivals

    undisturbed = taker_arrivals(False)
    assert len(undisturbed) > 100
    assert taker_arrivals(True) == undisturbed


def test_the_book_stays_two_sided_around_the_fair_price():
    _, flow = _run(3, 600, markets=(BTC,))
    book = flow.exchange.book("BTC/USDT")
    fair_ticks = flow.fair_price("BTC/USDT") / 0.01
    bid, ask = book.best_bid(), book.best_ask()
    assert bid is not None and ask is not None and bid < ask
    # ladder: best level 5 bps from fair; takers may have eaten it since the last refresh
    assert fair_ticks * (1 - 30e-4) < bid < fair_ticks < ask < fair_ticks * (1 + 30e-4)
    bids, asks = book.depth(50)
    assert 5 <= len(bids) <= 10 and 5 <= len(asks) <= 10


@pytest.mark.parametrize("look_ahead", [False, True])
def test_gbm_path_has_the_configured_volatility(look_ahead):
    sigma = 0.6
    rng = np.random.default_rng(11)
    path = FairPricePath(60000.0, sigma, rng, start_ns=0)
    arrivals = np.random.default_rng(12)
    ts, logs = 0, [math.log(60000.0)]
    horizon_ns = 10 * NS_PER_S
    for _ in range(20_000):
        ts += int(arrivals.exponential(30.0) * NS_PER_S)  # irregular spacing, mean 30 s
        if look_ahead:
            path.price_at(ts + horizon_ns)  # sample the future first, fill in the present later
        logs.append(math.log(path.advance_to(ts)))
    years = ts / NS_PER_S / SECONDS_PER_YEAR
    realized = math.sqrt(float(np.sum(np.diff(logs) ** 2)) / years)
    # 20k increments: the estimator's relative standard error is about 0.5%
    assert realized == pytest.approx(sigma, rel=0.03)


def test_future_knot_is_kept_when_the_present_catches_up():
    path = FairPricePath(100.0, 0.8, np.random.default_rng(1), start_ns=0)
    future = path.price_at(10 * NS_PER_S)
    middle = path.advance_to(5 * NS_PER_S)
    assert path.price == middle and path.ts_ns == 5 * NS_PER_S
    assert path.advance_to(10 * NS_PER_S) == future
    with pytest.raises(ValueError, match="before the present"):
        path.price_at(NS_PER_S)


def test_informed_takers_trade_toward_the_future_fair_price():
    informed_only = BTC.model_copy(
        update={"noise_taker_rate_per_s": 0.0, "informed_taker_rate_per_s": 2.0, "volatility_annual": 2.0}
    )
    exchange = MockExchange("mock", [informed_only.to_market("mock")])
    flow = OrderFlow(exchange, [informed_only], 5, start_ns=0)
    checked: list[bool] = []

    def on_event(_, event):
        if isinstance(event, PublicTrade):
            # the informed taker just sampled fair at ts + horizon: reading it back draws nothing
            future = flow.fair_price("BTC/USDT", event.exchange_ts_ns + 10 * NS_PER_S)
            price = event.price_ticks * 0.01
            edge = 2e-4
            checked.append(
                future >= price * (1 + edge) if event.aggressor is Side.BUY else future <= price * (1 - edge)
            )

    exchange.add_listener(on_event)
    flow.advance_to(600 * NS_PER_S)
    assert len(checked) > 20
    assert all(checked)


def test_a_fair_price_shock_moves_the_path_and_the_ladder_with_it():
    calm = ETH.model_copy(update={"volatility_annual": 0.0})
    _, flow = _run(5, 60, markets=(calm,))
    assert flow.fair_price("ETH/USDT", 90 * NS_PER_S) == pytest.approx(3000.0)  # a look ahead (kept knot)

    after = flow.shock_fair_price("ETH/USDT", 1.03, 70 * NS_PER_S)

    assert after == pytest.approx(3090.0) and flow.fair_price("ETH/USDT") == after
    assert flow.fair_price("ETH/USDT", 90 * NS_PER_S) == pytest.approx(3090.0)  # the look ahead is gone
    book = flow.exchange.book("ETH/USDT")
    mid = (book.best_bid() + book.best_ask()) / 2 * 0.01
    assert mid == pytest.approx(3090.0, rel=1e-4)  # the ladder was re-posted around the new price
    with pytest.raises(ValueError, match="positive"):
        flow.shock_fair_price("ETH/USDT", 0.0, 71 * NS_PER_S)
    with pytest.raises(KeyError, match="BTC"):
        flow.shock_fair_price("BTC/USDT", 1.1, 71 * NS_PER_S)
