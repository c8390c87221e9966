"""Conversion throughput of `mmbot data convert`: rows/s and peak RSS, numba's compile apart.

Writes real-shaped inputs from the seeded synthetic stream (tick 0.01, sizes with 6 decimals, so
finer than the 0.00001 lot: the data lot path), then converts them:
- tardis: incremental_book_L2 CSV + trades CSV (the 1 M rows/s target of issue 19);
- binance-ws: a combined-stream capture (depthUpdate diffs of 1-10 levels, trades, one REST
  snapshot), rows = depth levels + trades written.

Each conversion runs in a child process (its own peak RSS; CPU time, which a shared machine's load
does not inflate, next to the wall time) after a small warm-up file (numba's compile and cache).
`--reference-tree DIR` converts the same inputs with DIR's code too (e.g. the code before a change:
`git archive <commit> | tar -x -C DIR`), in the same run, and prints the ratio.

    PYTHONPATH=. python benchmarks/data_convert.py [--rows N] [--only tardis|binance-ws]
        [--reference-tree DIR]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from bot.backtest.synthetic import SyntheticParams, generate
from connectors.replay.events import TRADE

TICK, LOT = Decimal("0.01"), Decimal("0.00001")
REPO = Path(__file__).resolve().parents[1]


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


def _convert(kind: str, src: list[Path], out: Path, small: list[Path]) -> dict[str, Any]:
    """One conversion in this process (numba's compile and cache load done first, on `small`)."""
    from bot.backtest.data.binance_ws import convert_binance_ws  # the tree on PYTHONPATH's
    from bot.backtest.data.tardis import convert_tardis_files

    def run(paths: list[Path], dest: Path):
        if kind == "tardis":
            return convert_tardis_files(paths[0], paths[1], dest, venue="binance", symbol="BTC/USDT",
                                        tick_size=TICK, lot_size=LOT)  # fmt: skip
        return convert_binance_ws(paths[0], str(dest.parent / (dest.stem + "-{symbol}.npz")),
                                  venue="binance", lot_size=LOT)[0]  # fmt: skip

    run(small, out.parent / "warm.npz")
    t, cpu = time.perf_counter(), time.process_time()
    summary = run(src, out)
    wall, cpu = time.perf_counter() - t, time.process_time() - cpu
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "rows": summary.rows,
        "wall": wall,
        "cpu": cpu,
        "rss_mb": rss_mb,
        "data_lot": str(summary.meta.data_lot),
    }


def _timed(kind: str, src: list[Path], small: list[Path], tree: Path) -> dict[str, Any]:
    """The conversion in a child process running `tree`'s code: its own peak RSS and CPU time."""
    out = src[0].parent / f"out-{kind}-{abs(hash(str(tree)))}.npz"
    args = [sys.executable, __file__, "--child", kind, json.dumps([str(p) for p in src]),
            json.dumps([str(p) for p in small]), str(out)]  # fmt: skip
    env = dict(os.environ, PYTHONPATH=str(tree))
    proc = subprocess.run(args, capture_output=True, text=True, check=False, env=env, cwd=src[0].parent)
    if proc.returncode != 0:
        raise SystemExit(f"{kind} with {tree} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _write_inputs(
    d: Path, small: Path, rows: int, only: str | None
) -> dict[str, tuple[list[Path], list[Path]]]:
    inputs: dict[str, tuple[list[Path], list[Path]]] = {}
    if only in (None, "tardis"):
        inputs["tardis"] = (list(write_tardis(d, rows)), list(write_tardis(small, 2000)))
    if only in (None, "binance-ws"):
        inputs["binance-ws"] = ([write_binance_ws(d, rows)], [write_binance_ws(small, 2000)])
    return inputs


def _line(kind: str, name: str, rows_in: int, r: dict[str, Any]) -> str:
    return (
        f"{kind:<11} {name:<24} {int(r['rows']):>10,} rows from {rows_in:>10,} input rows  "
        f"{r['wall']:6.2f} s wall {r['cpu']:6.2f} s CPU  {r['rows'] / r['wall']:>11,.0f} rows/s wall  "
        f"{r['rows'] / r['cpu']:>11,.0f} rows/s CPU  peak RSS {r['rss_mb']:,.0f} MB  data lot {r['data_lot']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--only", choices=["tardis", "binance-ws"])
    parser.add_argument("--reference-tree", type=Path, default=None, help="the code to compare with")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, src, small, out = args.child
        paths = [Path(p) for p in json.loads(src)]
        print(json.dumps(_convert(kind, paths, Path(out), [Path(p) for p in json.loads(small)])))
        return
    trees = [("this tree", REPO)]
    if args.reference_tree is not None:
        trees.append((f"reference {args.reference_tree}", args.reference_tree.resolve()))
    print(f"load average at start: {os.getloadavg()[0]:.1f} ({os.cpu_count()} CPUs); target 1,000,000 rows/s")
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        small = d / "small"
        small.mkdir()
        # written by a fresh process: a converter's peak RSS is its own, not this process's
        # (Linux keeps a parent's peak across fork + exec)
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            inputs = pool.submit(_write_inputs, d, small, args.rows, args.only).result()
        for kind, (src, warm) in inputs.items():
            rates = []
            for name, tree in trees:
                r = _timed(kind, src, warm, tree)
                rates.append(r["rows"] / r["cpu"])
                print(_line(kind, name, args.rows, r), flush=True)
            print(f"  {kind}: x{rates[0] / 1e6:.2f} of the 1 M rows/s target (CPU time)", end="")
            print(f"; this tree / reference x{rates[0] / rates[1]:.2f}" if len(rates) == 2 else "")
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
