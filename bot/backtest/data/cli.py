"""`mmbot data`: record, convert, synth, info (argparse wiring; bot/cli.py adds the group)."""

from __future__ import annotations

import argparse
import json
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from connectors.replay.events import EventFileError


def _dec(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except ArithmeticError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be positive")
    return value


def _print_summaries(summaries: list[Any], seconds: float) -> None:
    total = sum(s.rows for s in summaries)
    for s in summaries:
        notes = ", ".join(f"{k}={v}" for k, v in sorted(s.notes.items()))
        print(f"{s.path}: {s.rows:,} rows, tick {s.meta.tick_size}, lot {s.meta.lot_size}, "
              f"data lot {s.meta.data_lot}; {notes}")  # fmt: skip
    if seconds > 0:
        print(f"{total:,} rows in {seconds:.2f} s ({total / seconds:,.0f} rows/s)")


def cmd_convert(args: argparse.Namespace) -> int:
    from bot.backtest.data.symbols import per_symbol, symbol_names

    t = time.perf_counter()
    try:
        if args.format == "tardis":
            from bot.backtest.data.tardis import convert_tardis_files

            if args.tick is None or args.symbol is None:
                raise EventFileError("tardis: give --tick and --symbol BASE/QUOTE")
            summaries = [convert_tardis_files(
                Path(args.input), Path(args.trades) if args.trades else None, Path(args.out),
                venue=args.venue, symbol=args.symbol[0], tick_size=_dec(args.tick[0]),
                lot_size=_dec(args.lot[0]) if args.lot else None)]  # fmt: skip
        elif args.format == "binance-ws":
            from bot.backtest.data.binance_ws import convert_binance_ws

            summaries = convert_binance_ws(
                args.input, args.out, venue=args.venue, names=symbol_names(args.symbol),
                tick_size=per_symbol(args.tick, "tick"), lot_size=per_symbol(args.lot, "lot"))  # fmt: skip
        else:
            from bot.backtest.data.binance_vision import convert_vision_trades

            if args.tick is None or args.symbol is None:
                raise EventFileError("binance-vision-trades: give --tick and --symbol BASE/QUOTE")
            summaries = [convert_vision_trades(
                args.input, args.out, venue=args.venue, symbol=args.symbol[0],
                tick_size=_dec(args.tick[0]), lot_size=_dec(args.lot[0]) if args.lot else None)]  # fmt: skip
    except (EventFileError, argparse.ArgumentTypeError) as exc:
        print(f"convert: {exc}")
        return 2
    _print_summaries(summaries, time.perf_counter() - t)
    return 0


def cmd_synth(args: argparse.Namespace) -> int:
    from bot.backtest.synthetic import SyntheticParams, generate
    from connectors.replay.events import save_events

    symbols = args.symbols.split(",")
    for k, symbol in enumerate(symbols):
        params = SyntheticParams(
            rows=args.rows, levels=args.levels, tick_size=args.tick, lot_size=args.lot,
            initial_price=args.price, mean_interval_ms=args.interval_ms, seed=args.seed + k,
            venue=args.venue, symbol=symbol,
        )  # fmt: skip
        path = Path(args.out.replace("{symbol}", symbol.replace("/", "-")))
        if len(symbols) > 1 and "{symbol}" not in args.out:
            print("synth: several symbols; put {symbol} in --out")
            return 2
        save_events(path, generate(params))
        print(f"{path}: {args.rows:,} rows of {symbol} (seed {args.seed + k})")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from bot.backtest.data.info import describe, render

    try:
        infos = [describe(p) for p in args.files]
    except EventFileError as exc:
        print(f"info: {exc}")
        return 2
    print(json.dumps(infos, indent=2) if args.json else "\n".join(render(i) for i in infos))
    return 0


def cmd_record(args: argparse.Namespace) -> int:
    from bot.backtest.data.record import RecordParams, record_command

    params = RecordParams(
        exchange=args.exchange, symbols=tuple(args.symbols), out_dir=Path(args.out),
        rotate_rows=args.rotate_rows, rotate_s=args.rotate_s, depth=args.depth,
        duration_s=args.duration, urls=args.urls, options=json.loads(args.options) if args.options else {},
    )  # fmt: skip
    return record_command(params)


def add_data_commands(sub: Any) -> None:
    """`mmbot data ...` on the top-level subparsers."""
    data = sub.add_parser("data", help="record, convert, generate and describe L2 event files")
    cmds = data.add_subparsers(dest="data_command", required=True)

    p = cmds.add_parser("record", help="record a ccxt venue's public book and trade streams")
    p.add_argument("exchange", help="ccxt exchange id, e.g. binance")
    p.add_argument("symbols", nargs="+", help="BASE/QUOTE symbols")
    p.add_argument("--out", default="data", help="directory of the rotating files (default ./data)")
    p.add_argument("--rotate-rows", type=int, default=5_000_000, help="start a new file after this many rows")
    p.add_argument("--rotate-s", type=float, default=3600.0, help="start a new file after this many seconds")
    p.add_argument("--depth", type=int, default=100, help="book levels asked of the venue")
    p.add_argument("--duration", type=float, default=None, help="stop after this many seconds (else SIGINT)")
    p.add_argument("--urls", default=None, help="a base URL to point ccxt at (a local mock-exchange)")
    p.add_argument("--options", default=None, help="ccxt options as JSON")
    p.set_defaults(func=cmd_record)

    p = cmds.add_parser("convert", help="convert Tardis CSVs, Binance websocket captures or Binance dumps")
    p.add_argument("format", choices=["tardis", "binance-ws", "binance-vision-trades"])
    p.add_argument("input", help="book CSV (tardis), capture file (binance-ws), trades CSV (vision)")
    p.add_argument("--trades", help="tardis: the trades CSV to merge in")
    p.add_argument("--out", required=True, help="output .npz; {symbol} becomes BASE-QUOTE (several symbols)")
    p.add_argument("--venue", default="binance", help="venue name stored in the file")
    p.add_argument(
        "--symbol", action="append", help="BASE/QUOTE (tardis, vision); RAW=BASE/QUOTE (binance-ws)"
    )
    p.add_argument("--tick", action="append", help="price tick (binance-ws: optional, also RAW=TICK)")
    p.add_argument(
        "--lot", action="append", help="trading lot; finer data sizes get a data lot (also RAW=LOT)"
    )
    p.set_defaults(func=cmd_convert)

    p = cmds.add_parser("synth", help="write the seeded synthetic L2 stream")
    p.add_argument("--out", required=True, help="output .npz; {symbol} becomes BASE-QUOTE")
    p.add_argument("--rows", type=int, default=100_000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--symbols", default="BTC/USDT", help="comma-separated; seeds follow --seed")
    p.add_argument("--venue", default="sim")
    p.add_argument("--tick", type=_dec, default=Decimal("0.01"))
    p.add_argument("--lot", type=_dec, default=Decimal("0.001"))
    p.add_argument("--price", type=_dec, default=Decimal("100"), help="initial price")
    p.add_argument("--levels", type=int, default=20)
    p.add_argument("--interval-ms", type=float, default=1.8, help="mean time between events")
    p.set_defaults(func=cmd_synth)

    p = cmds.add_parser("info", help="rows, span, symbol, tick/lot, gaps, resyncs, crossed books")
    p.add_argument("files", nargs="+")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_info)
