"""`mmbot data convert` / `info` on small real-shaped fixtures: Binance combined-stream captures
(REST snapshot, depthUpdate U/u with one gap, trades with m), Tardis rows with a mid-file snapshot,
exact sizes finer than the trading lot, gap and crossed-book reporting."""

import json
from decimal import Decimal

import pytest

from bot.backtest.data.binance_ws import convert_binance_ws
from bot.backtest.data.tardis import convert_tardis_files
from bot.cli import main
from connectors.replay.events import ASK, BID, DEPTH, RESYNC, TRADE, EventFileError, load_events

LOT = Decimal("0.00001")
T = 1_700_000_000_000  # ms


def rows(data):
    return list(zip(data.kind.tolist(), data.side.tolist(), data.local_ts_ns.tolist(),
                    data.price_ticks.tolist(), data.size_lots.tolist(), strict=True))  # fmt: skip


def line(local_ns, stream, data):
    return f"{local_ns} {json.dumps({'stream': stream, 'data': data})}\n"


def diff(U, u, bids, asks, e=T):
    return {"e": "depthUpdate", "E": e, "s": "BTCUSDT", "U": U, "u": u, "b": bids, "a": asks}


def snapshot(last_id, bids, asks):
    return {"lastUpdateId": last_id, "bids": bids, "asks": asks}


def trade(price, qty, buyer_maker, e=T):
    return {"e": "trade", "E": e, "s": "BTCUSDT", "t": 1, "p": price, "q": qty, "T": e, "m": buyer_maker}


def capture(tmp_path):
    ms = 1_000_000
    text = "".join([
        line(T * ms + 1, "btcusdt@depth@100ms", diff(98, 100, [["65000.00000000", "1.00000000"]], [])),  # before the snapshot, stale  # noqa: E501
        line(T * ms + 2, "btcusdt@depth@100ms", diff(101, 102, [["65000.10000000", "25.42618900"]], [])),  # straddles it  # noqa: E501
        line(T * ms + 3, "btcusdt@depthSnapshot", snapshot(101, [["65000.00000000", "2.00000000"]], [["65000.50000000", "0.50000000"]])),  # noqa: E501
        line(T * ms + 4, "btcusdt@trade", trade("65000.50000000", "0.00000300", False)),  # a buyer took
        line(T * ms + 5, "btcusdt@depth@100ms", diff(103, 104, [], [["65000.50000000", "0.49999700"]])),
        line(T * ms + 6, "btcusdt@depth@100ms", diff(110, 111, [["64999.90000000", "3.00000000"]], [])),  # gap: 105..109 lost  # noqa: E501
        line(T * ms + 7, "btcusdt@trade", trade("65000.10000000", "0.10000000", True)),  # a seller took
        line(T * ms + 8, "btcusdt@depthSnapshot", snapshot(120, [["65000.10000000", "1.00000000"]], [["65000.50000000", "0.40000000"]])),  # noqa: E501
        line(T * ms + 9, "btcusdt@depth@100ms", diff(121, 121, [], [["65000.60000000", "1.00000000"]])),
    ])  # fmt: skip
    path = tmp_path / "capture.txt"
    path.write_text(text)
    return path


def test_binance_capture_syncs_by_update_ids_and_resyncs_after_a_gap(tmp_path):
    [summary] = convert_binance_ws(capture(tmp_path), str(tmp_path / "{symbol}.npz"), lot_size=LOT)
    data = load_events(tmp_path / "BTC-USDT.npz")
    assert summary.path == tmp_path / "BTC-USDT.npz"
    meta = data.meta
    assert (meta.symbol, meta.tick_size, meta.lot_size, meta.data_lot_size) == (
        "BTC/USDT", Decimal("0.1"), LOT, Decimal("0.000001"))  # fmt: skip
    t = T * 1_000_000
    assert rows(data) == [
        (DEPTH, BID, t + 3, 650000, 2_000_000),  # the snapshot
        (DEPTH, ASK, t + 3, 650005, 500_000),
        (DEPTH, BID, t + 3, 650001, 25_426_189),  # the diff it was behind, applied at its time
        (TRADE, BID, t + 4, 650005, 3),  # 0.000003: finer than the lot, kept
        (DEPTH, ASK, t + 5, 650005, 499_997),
        (TRADE, ASK, t + 7, 650001, 100_000),  # the diff at t+6 did not chain: not applied
        (RESYNC, BID, t + 8, 650001, 0),
        (DEPTH, BID, t + 8, 650000, 0),  # the fresh snapshot lacks it
        (DEPTH, BID, t + 8, 650001, 1_000_000),
        (DEPTH, ASK, t + 8, 650005, 400_000),
        (DEPTH, ASK, t + 9, 650006, 1_000_000),
    ]
    notes = summary.notes
    assert (notes["gaps"], notes["resyncs"], notes["crossed_books"], notes["unsynced_at_end"]) == (1, 1, 0, 0)
    assert data.exch_ts_ns[0] == T * 1_000_000  # E in ms, never after the receive time


def test_binance_book_of_many_levels_deletions_and_a_crossing(tmp_path):
    """Hundreds of levels (the compiled book grows several times), deletions of the best and of
    levels the book lacks (no row), one crossing, bare messages and another stream's lines."""
    ms = 1_000_000
    lines = [line(T * ms, "btcusdt@depthSnapshot", snapshot(1, [], []))]
    expected, book, u = [], {BID: {}, ASK: {}}, 1
    for k in range(300):  # 300 bids and 300 asks, then every bid deleted best first, twice
        b = [[f"{60000 - k * 0.1:.2f}", f"0.{k + 1:08d}"]]
        a = [[f"{60100 + k * 0.1:.2f}", "1"]]
        lines.append(f"{T * ms + 1 + k} {json.dumps(diff(u + 1, u + 1, b, a))}\n")  # bare message
        lines.append(f"{T * ms + 1 + k} {json.dumps({'stream': 'btcusdt@bookTicker', 'data': {'u': 1}})}\n")
        u += 1
        book[BID][600000 - k], book[ASK][601000 + k] = k + 1, 100_000_000
        expected += [(DEPTH, BID, T * ms + 1 + k, 600000 - k, k + 1),
                     (DEPTH, ASK, T * ms + 1 + k, 601000 + k, 100_000_000)]  # fmt: skip
    for rep in range(2):
        for k in range(300):
            t = T * ms + 1000 + rep * 300 + k
            lines.append(line(t, "btcusdt@depth", diff(u + 1, u + 1, [[f"{60000 - k * 0.1:.2f}", "0"]], [])))
            u += 1
            if rep == 0:
                expected.append((DEPTH, BID, t, 600000 - k, 0))
    t = T * ms + 5000
    lines.append(line(t, "btcusdt@depth", diff(u + 1, u + 1, [["60200.00", "2"]], [])))  # above the best ask
    expected.append((DEPTH, BID, t, 602000, 200_000_000))
    path = tmp_path / "c.txt"
    path.write_text("".join(lines))
    [summary] = convert_binance_ws(path, str(tmp_path / "{symbol}.npz"), lot_size=Decimal("0.00000001"))
    data = load_events(summary.path)
    assert data.meta.tick_size == Decimal("0.1")
    assert [(k, s, t, p, z) for k, s, t, p, z in rows(data)] == expected
    assert (summary.notes["crossed_books"], summary.notes["gaps"]) == (1, 0)

    bad = tmp_path / "bad.txt"
    bad.write_text(lines[0] + line(T * ms + 1, "btcusdt@depth", diff(2, 2, [["60000.000000001", "1"]], [])))
    with pytest.raises(EventFileError, match="line 2"):
        convert_binance_ws(bad, str(tmp_path / "b-{symbol}.npz"))


def test_exact_round_trip_of_sizes_finer_than_the_lot(tmp_path):
    book = tmp_path / "book.csv"
    book.write_text(
        "exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount\n"
        "binance,BTCUSDT,1,2,false,bid,65000.10,25.426189\n"
        "binance,BTCUSDT,1,2,false,ask,65000.20,0.00001\n"
        "binance,BTCUSDT,3,4,false,ask,65000.20,1e-06\n"
    )
    s = convert_tardis_files(book, None, tmp_path / "o.npz", venue="binance", symbol="BTC/USDT",
                             tick_size=Decimal("0.01"), lot_size=LOT)  # fmt: skip
    data = load_events(s.path)
    sizes = [Decimal(x) * data.meta.data_lot for x in data.size_lots.tolist()]
    assert sizes == [Decimal("25.426189"), Decimal("0.00001"), Decimal("0.000001")]
    assert [Decimal(p) * data.meta.tick_size for p in data.price_ticks.tolist()] == [
        Decimal("65000.10"), Decimal("65000.20"), Decimal("65000.20")]  # fmt: skip
    assert data.meta.lot_size == LOT and data.meta.lots_per_trading_lot == 10


def test_tardis_mid_file_snapshot_and_crossed_book_are_reported(tmp_path):
    book = tmp_path / "book.csv"
    book.write_text(
        "exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount\n"
        "x,BTCUSDT,10,11,true,bid,100.0,1\n"
        "x,BTCUSDT,10,11,true,ask,100.2,1\n"
        "x,BTCUSDT,20,21,false,bid,100.3,2\n"  # crosses the ask
        "x,BTCUSDT,30,31,false,bid,100.3,0\n"
        "x,BTCUSDT,40,41,true,bid,100.0,5\n"  # reconnect: a fresh snapshot
        "x,BTCUSDT,40,41,true,ask,100.1,1\n"
    )
    trades = tmp_path / "trades.csv"
    trades.write_text(
        "exchange,symbol,timestamp,local_timestamp,id,side,price,amount\nx,BTCUSDT,35,41,9,buy,100.2,0.5\n"
    )
    s = convert_tardis_files(book, trades, tmp_path / "o.npz", venue="x", symbol="BTC/USDT",
                             tick_size=Decimal("0.1"), lot_size=Decimal("0.1"))  # fmt: skip
    assert (s.notes["resyncs"], s.notes["gaps"], s.notes["crossed_books"]) == (1, 1, 1)
    assert rows(load_events(s.path))[3:] == [
        (DEPTH, BID, 31_000, 1003, 0),
        (RESYNC, BID, 41_000, 1000, 0),
        (DEPTH, ASK, 41_000, 1002, 0),  # only the level the snapshot lacks is deleted
        (DEPTH, BID, 41_000, 1000, 50),
        (DEPTH, ASK, 41_000, 1001, 10),
        (TRADE, BID, 41_000, 1002, 5),  # book rows first on equal receive times
    ]


def test_vision_trades_and_data_info(tmp_path, capsys):
    trades = tmp_path / "BTCUSDT-trades.csv"
    trades.write_text(
        "1,65000.10,0.000003,0.195,1700000000000,True,True\n2,65000.20,1.5,97500.3,1700000000001000,False,True\n"
    )
    out = tmp_path / "t.npz"
    assert main(["data", "convert", "binance-vision-trades", str(trades), "--out", str(out),
                 "--symbol", "BTC/USDT", "--tick", "0.01", "--lot", "0.00001"]) == 0  # fmt: skip
    data = load_events(out)
    assert rows(data) == [
        (TRADE, ASK, 1_700_000_000_000_000_000, 6500010, 3),
        (TRADE, BID, 1_700_000_000_001_000_000, 6500020, 1_500_000),
    ]
    capsys.readouterr()
    assert (
        main(
            ["data", "convert", "binance-ws", str(capture(tmp_path)), "--out", str(tmp_path / "{symbol}.npz")]
        )
        == 0
    )
    assert main(["data", "info", str(tmp_path / "BTC-USDT.npz")]) == 0
    text = capsys.readouterr().out
    assert "rows            11 (depth 8, trade 2, snapshot 0, resync 1)" in text
    assert "gaps            1" in text and "resync markers  1" in text and "crossed books   0" in text
    assert "tick / lot      0.1 / 0.000001 (data lot 0.000001)" in text  # no --lot: the data's step
    assert "2023-11-14 22:13:20.000Z .. 2023-11-14 22:13:20.000Z (0.0 s)" in text
