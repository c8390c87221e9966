"""Conversion throughput of `mmbot data convert`: rows/s and peak RSS, numba's compile apart.

Writes real-shaped inputs from the seeded synthetic stream (tick 0.01, sizes with 6 decimals, so
finer than the 0.00001 lot: the data lot path), then converts them:
- tardis: incremental_book_L2 CSV + trades CSV (the 1 M rows/s target of issue 19);
- binance-ws: a combined-stream capture (depthUpdate diffs of 1-10 levels, trades, one REST
  snapshot), rows = depth levels + trades written.

    PYTHONPATH=. python benchmarks/data_convert.py [--rows N] [--only tardis|binance-ws]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import numpy as np

from bot.backtest.data.binance_ws import convert_binance_ws
from bot.backtest.data.tardis import convert_tardis_files
from bot.backtest.synthetic import SyntheticParams, generate
from connectors.replay.events import TRADE

TICK, LOT = Decimal("0.01"), Decimal("0.00001")


def _columns(rows: int) -> tuple[np.ndarray, ...]:
    d = generate(SyntheticParams(rows=rows, levels=20, initial_price=Decimal("60000"), seed=7))
    rng = np.random.default_rng(7)
    micro = d.size_lots * 1000 + rng.integers(0, 1000, len(d)) * (d.size_lots > 0)  # 6 decimals
    return d.kind, d.side, d.exch_ts_ns // 1000, d.local_ts_ns // 1000, d.price_ticks, micro


def write_tardis(dir_: Path, rows: int) -> tuple[Path, Path]:
    kind, side, exch, local, px, size = _columns(rows)
    price = [f"{p // 100}.{p % 100:02d}" for p in px.tolist()]
    amount = [f"{s // 10**6}.{s % 10**6:06d}" for s in size.tolist()]
    book, trades = dir_ / "book.csv", dir_ / "trades.csv"
    with book.open("w") as b, trades.open("w") as t:
        b.write("exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount\n")
        t.write("exchange,symbol,timestamp,local_timestamp,id,side,price,amount\n")
        for i, (k, s, e, lo) in enumerate(
            zip(kind.tolist(), side.tolist(), exch.tolist(), local.tolist(), strict=True)
        ):
            if k == TRADE:
                t.write(f"binance,BTCUSDT,{e},{lo},{i},{'buy' if s > 0 else 'sell'},{price[i]},{amount[i]}\n")
            else:
                snap = "true" if i < 40 else "false"
                b.write(
                    f"binance,BTCUSDT,{e},{lo},{snap},{'bid' if s > 0 else 'ask'},{price[i]},{amount[i]}\n"
                )
    return book, trades


def write_binance_ws(dir_: Path, rows: int) -> Path:
    kind, side, exch, local, px, size = _columns(rows)
    path = dir_ / "capture.txt"
    rng = np.random.default_rng(3)
    u = 1000
    with path.open("w") as f:
        snap = {"lastUpdateId": u, "bids": [], "asks": []}
        f.write(f"{int(local[0]) * 1000} {json.dumps({'stream': 'btcusdt@depthSnapshot', 'data': snap})}\n")
        i = 0
        while i < len(kind):
            if kind[i] == TRADE:
                msg = {"e": "trade", "E": int(exch[i]) // 1000, "s": "BTCUSDT", "t": i, "p": f"{px[i] / 100:.8f}",  # noqa: E501
                       "q": f"{size[i] / 1e6:.8f}", "T": int(exch[i]) // 1000, "m": bool(side[i] < 0)}  # fmt: skip  # noqa: E501
                f.write(f"{int(local[i]) * 1000} {json.dumps({'stream': 'btcusdt@trade', 'data': msg})}\n")
                i += 1
                continue
            n = int(rng.integers(1, 11))
            j = i
            bids, asks = [], []
            while j < len(kind) and j < i + n and kind[j] != TRADE:
                (bids if side[j] > 0 else asks).append([f"{px[j] / 100:.8f}", f"{size[j] / 1e6:.8f}"])
                j += 1
            msg = {"e": "depthUpdate", "E": int(exch[j - 1]) // 1000, "s": "BTCUSDT", "U": u + 1, "u": u + j - i,  # noqa: E501
                   "b": bids, "a": asks}  # fmt: skip
            u += j - i
            f.write(
                f"{int(local[j - 1]) * 1000} {json.dumps({'stream': 'btcusdt@depth@100ms', 'data': msg})}\n"
            )
            i = j
    return path


def _convert(label: str, rows_in: int, run) -> None:
    t = time.perf_counter()
    summary = run()
    wall = time.perf_counter() - t
    # a child of its own: its peak RSS is the converter's, not the input generator's
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{label:<11} {summary.rows:>10,} rows written from {rows_in:>10,} input rows  {wall:6.2f} s  "
        f"{summary.rows / wall:>12,.0f} rows/s  converter peak RSS {rss_mb:,.0f} MB  data lot {summary.meta.data_lot}",  # noqa: E501
        flush=True,
    )


def _timed(label: str, rows_in: int, run) -> None:
    proc = multiprocessing.get_context("fork").Process(target=_convert, args=(label, rows_in, run))
    proc.start()
    proc.join()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--only", choices=["tardis", "binance-ws"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        small = d / "small"
        small.mkdir()
        b, t = write_tardis(small, 2000)
        t0 = time.perf_counter()
        convert_tardis_files(
            b, t, small / "o.npz", venue="binance", symbol="BTC/USDT", tick_size=TICK, lot_size=LOT
        )
        print(f"numba compile + first small file: {time.perf_counter() - t0:.2f} s")
        if args.only in (None, "tardis"):
            b, t = write_tardis(d, args.rows)
            _timed("tardis", args.rows, lambda: convert_tardis_files(
                b, t, d / "t.npz", venue="binance", symbol="BTC/USDT", tick_size=TICK, lot_size=LOT))  # fmt: skip  # noqa: E501
        if args.only in (None, "binance-ws"):
            cap = write_binance_ws(d, args.rows)
            _timed("binance-ws", args.rows, lambda: convert_binance_ws(
                cap, d / "{symbol}.npz", venue="binance", lot_size=LOT)[0])  # fmt: skip


if __name__ == "__main__":
    main()
