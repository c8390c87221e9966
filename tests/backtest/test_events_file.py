"""The .npz event format: round trip, validation errors naming the column, the generator."""

import numpy as np
import pytest

from bot.backtest.synthetic import SyntheticParams, generate
from connectors.replay.events import DEPTH, TRADE, EventFileError, load_events, make_event_data, save_events
from tests.kit.replay_rows import META, book, depth, trade


def test_round_trip_keeps_every_column_and_the_market(tmp_path):
    data = book([depth(0, 1, 100, 5), trade(10, -1, 100, 2)])
    path = save_events(tmp_path / "d.npz", data)
    back = load_events(path)
    assert back.meta == META
    for name in ("kind", "side", "exch_ts_ns", "local_ts_ns", "price_ticks", "size_lots"):
        assert np.array_equal(getattr(back, name), getattr(data, name))
        assert getattr(back, name).dtype == getattr(data, name).dtype
    assert back.kind.tolist() == [DEPTH, TRADE]


@pytest.mark.parametrize(
    "column, value, message",
    [
        ("kind", [1, 7], "column kind: row 1 is 7"),
        ("side", [0, 1], "column side: row 0 is 0"),
        ("price_ticks", [5, 0], "column price_ticks: row 1"),
        ("size_lots", [-1, 1], "column size_lots: row 0"),
        ("local_ts_ns", [20, 10], "column local_ts_ns: goes backwards at row 1"),
        ("exch_ts_ns", [0, 30], "column local_ts_ns: row 1 is received before exch_ts_ns"),
    ],
)
def test_bad_columns_are_refused_naming_the_column(column, value, message):
    cols = dict(kind=[1, 2], side=[1, -1], exch_ts_ns=[0, 10], local_ts_ns=[10, 20], price_ticks=[5, 5])
    cols["size_lots"] = [1, 1]
    cols[column] = value
    with pytest.raises(EventFileError, match=message):
        make_event_data(META, **cols)


def test_a_file_without_a_column_is_refused(tmp_path):
    path = tmp_path / "bad.npz"
    np.savez(path, kind=np.array([1], np.int8))
    with pytest.raises(EventFileError, match="missing columns"):
        load_events(path)


def test_generator_is_seeded_and_keeps_a_consistent_two_sided_book():
    p = SyntheticParams(rows=20_000, levels=5, seed=7, feed_latency_ms=1.0)
    a, b = generate(p), generate(p)
    assert np.array_equal(a.price_ticks, b.price_ticks) and np.array_equal(a.exch_ts_ns, b.exch_ts_ns)
    assert not np.array_equal(
        a.price_ticks, generate(SyntheticParams(rows=20_000, levels=5, seed=8)).price_ticks
    )
    assert len(a) == 20_000
    assert (a.local_ts_ns - a.exch_ts_ns == 1_000_000).all()
    # replay the depth rows: always 5 levels a side, never crossed
    bids: dict[int, int] = {}
    asks: dict[int, int] = {}
    for k, s, px, q in zip(a.kind, a.side, a.price_ticks, a.size_lots, strict=True):
        if k != DEPTH:
            continue
        levels = bids if s == 1 else asks
        if q:
            levels[int(px)] = int(q)
        else:
            levels.pop(int(px), None)
    assert len(bids) == 5 and len(asks) == 5
    assert max(bids) < min(asks)
    trades = a.kind == TRADE
    assert 0.05 < trades.mean() < 0.15
