"""XEMM edge accounting, pure: the shortfall's sign, the assumption a quote remembers, the
rolling window and the alert's once-per-excursion rule (`strategies.xvenue.edge`)."""

from decimal import Decimal

from bot.core.clock import FixedClock
from bot.core.domain import Side
from bot.core.events import BookSnapshot
from bot.kernel.market_state import MarketState
from bot.kernel.store import Store
from bot.ops.edge_metrics import EdgeCollector
from strategies.xvenue.edge import (
    ALERT_REASON,
    AssumedHedge,
    EdgeAlertParams,
    EdgeMonitor,
    EdgeWindow,
    HedgedRoundTrip,
    derived_hedge_price,
    edge_rows,
    shortfall_bps,
)
from strategies.xvenue.xemm_quotes import MakerMarket, XemmQuotes
from tests.kit import stubs

S = 1_000_000_000


def test_shortfall_is_positive_when_the_hedge_trades_worse_than_assumed():
    # maker bought: the hedge sells; selling lower than assumed is a shortfall
    assert shortfall_bps(Side.BUY, Decimal(60_000), Decimal(59_964)) == 6.0
    assert shortfall_bps(Side.BUY, Decimal(60_000), Decimal(60_006)) == -1.0
    # maker sold: the hedge buys; buying higher is
    assert shortfall_bps(Side.SELL, Decimal(60_000), Decimal(60_036)) == 6.0
    # the derivation inverts the quote formula: bid = hedge · (1 − cost), ask = hedge · (1 + cost)
    cost = Decimal("0.0008")
    assert derived_hedge_price(Side.BUY, Decimal(60_000) * (1 - cost), cost) == Decimal(60_000)
    assert derived_hedge_price(Side.SELL, Decimal(60_000) * (1 + cost), cost) == Decimal(60_000)


def test_a_quoted_price_remembers_the_taker_vwap_it_was_computed_from():
    maker = stubs.market(venue="va", maker_fee_bps=1)
    taker = stubs.market(venue="vb", taker_fee_bps=5)
    state = MarketState([maker, taker], [10, 10], [100, 100])  # 0.010 BTC per quote
    makers = {0: MakerMarket(0, maker)}
    quotes = XemmQuotes("x", state, makers, 1, min_profitability_bps=2, taker_stale_after_ms=1_000)
    # the taker book: 0.005 at 60000.0 and 0.005 at 59999.0 bid; asks 60001.0 / 60002.0
    quotes.taker_book = BookSnapshot(
        "vb", "BTC/USDT", ((600_000, 5), (599_990, 5)), ((600_010, 5), (600_020, 5)), 0, 0
    )
    bid, ask = quotes.maker_quote(makers[0])
    assert (bid, ask) == (599_515, 600_496)  # VWAP 59999.5 · (1 − 8 bps), 60001.5 · (1 + 8 bps)
    assert quotes.assumed_hedge(0, Side.BUY, bid) == AssumedHedge(Decimal("59999.5"), "quote")
    assert quotes.assumed_hedge(0, Side.SELL, ask) == AssumedHedge(Decimal("60001.5"), "quote")
    # a price this run never quoted (a restart): derived from the price and the costs
    derived = quotes.assumed_hedge(0, Side.BUY, 599_000)
    assert derived == AssumedHedge(Decimal("59900.0") / (1 - Decimal("0.0008")), "derived")
    # the taker book moves: the new price remembers the new VWAP, the old one keeps its own
    quotes.taker_book = BookSnapshot("vb", "BTC/USDT", ((599_700, 10),), ((599_710, 10),), 0, 0)
    new_bid, _ = quotes.maker_quote(makers[0])
    assert new_bid != bid
    assert quotes.assumed_hedge(0, Side.BUY, new_bid).price == Decimal("59970.0")
    assert quotes.assumed_hedge(0, Side.BUY, bid).price == Decimal("59999.5")


def test_the_window_weights_by_notional_and_forgets_old_round_trips():
    window = EdgeWindow(window_s=60)
    assert window.stats(0).round_trips == 0
    window.add(0, Decimal("0.6"), Decimal(1000), 2.0)  # +6 bps on 1000
    window.add(10 * S, Decimal("-0.3"), Decimal(3000), 8.0)  # −1 bps on 3000
    stats = window.stats(10 * S)
    assert (stats.round_trips, stats.realised_edge_bps, stats.shortfall_bps) == (2, 0.75, 6.5)
    stats = window.stats(60 * S)  # the first is 60 s old: out
    assert (stats.round_trips, stats.realised_edge_bps, stats.shortfall_bps) == (1, -1.0, 8.0)


def _trip(n: int, edge_quote: str, realised: str) -> HedgedRoundTrip:
    size = Decimal("0.01")
    return HedgedRoundTrip(
        n, "va:BTC/USDT", Side.BUY, Decimal(60_000), size, Decimal(realised) * size, Decimal(edge_quote),
        "60000.0", n * S,
    )  # fmt: skip


def test_the_alert_is_raised_once_per_excursion_below_the_threshold(tmp_path):
    store = Store(f"sqlite:///{tmp_path}/s.sqlite")
    monitor = EdgeMonitor("x", EdgeAlertParams(window_s=100, min_round_trips=3, alert_below_bps=0))
    assumed = AssumedHedge(Decimal(60_050), "quote")
    # two losing round trips: no verdict yet; the third makes the window speak
    for n in (1, 2, 3):
        monitor.record(store, _trip(n, "-0.018", "60014"), assumed)  # −0.3 bps, 6 bps short
        assert [e.kind for e in store.events("alert")] == ([] if n < 3 else ["alert"])
    monitor.record(store, _trip(4, "-0.018", "60014"), assumed)  # still below: no second alert
    assert len(store.events("alert")) == 1 and monitor.alerting
    for n in (5, 6, 7, 8, 9):  # back above: re-armed, no alert
        monitor.record(store, _trip(n, "0.06", "60050"), assumed)
    assert not monitor.alerting and len(store.events("alert")) == 1
    for n in range(10, 20):  # a new excursion: a new alert
        monitor.record(store, _trip(n, "-0.03", "60000"), assumed)
    alerts = store.events("alert")
    assert len(alerts) == 2 and ALERT_REASON in alerts[1].detail
    rows = edge_rows(store, "x")
    assert len(rows) == 19
    assert (rows[0].assumed_hedge_price, rows[0].realised_hedge_price, rows[0].shortfall_bps) == (
        "60050",
        "60014",
        shortfall_bps(Side.BUY, Decimal(60_050), Decimal(60_014)),
    )
    assert rows[0].realised_edge_bps == -0.3  # −0.018 on 600 of maker notional


def test_the_window_is_exported_at_scrape_time():
    class Xemm:  # an active strategy measuring its edge (strategies.xvenue.xemm.XemmStrategy)
        name = "x"
        edges = EdgeMonitor("x", EdgeAlertParams(window_s=60))

    Xemm.edges.window.add(0, Decimal("-0.3"), Decimal(3000), 8.0)
    collector = EdgeCollector(lambda: [Xemm(), object()], FixedClock(10 * S))
    got = {m.name: [(s.labels, s.value) for s in m.samples] for m in collector.collect()}
    assert got == {
        "mmbot_xemm_realised_edge_bps": [({"strategy": "x"}, -1.0)],
        "mmbot_xemm_edge_shortfall_bps": [({"strategy": "x"}, 8.0)],
        "mmbot_xemm_edge_window_round_trips": [({"strategy": "x"}, 1)],
        "mmbot_xemm_edge_alerting": [({"strategy": "x"}, 0)],
    }
