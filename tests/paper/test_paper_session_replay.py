"""A real-time paper session replays fill for fill.

The whole bot (`Bot`, fixed-spread quoting) runs in real time on a paper venue that streams an
in-process `mmbot mock-exchange` facade through real ccxt.pro (its flow on: takers trade several
times a second), recording the market data and the session's timing (each request's times, each
requote round's clock reading and markets). `mmbot backtest --compare` then replays the recording
on the simulated clock with `session_timing`: every fill the same, zero difference in fill count,
volume and PnL. The same replay with a synthetic latency instead shows a difference. And the
replay does not depend on where in its second the session started: moved in time so its first row
falls 1 ms after a whole second (where the replay's start-up used to end after that row and its
bot missed the first book: the CI race of #20), it makes the same fills, moved alike.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from bot.app.config import validate_config
from bot.app.lifecycle import Bot
from bot.cli import main
from bot.kernel.store import Store
from connectors.mock.facade.server import serve_facade
from connectors.mock.params import MockVenueParams
from connectors.replay.events import load_events, make_event_data, save_events
from tests.ccxt.conftest import BINANCE_LOCAL_OPTIONS
from tests.reliability.procs import bot_config, facade_config

SESSION_S = 4.0
BALANCES = {"USDT": "100000", "BTC": "1", "ETH": "20"}


def paper_config(url: str, tmp: Path) -> dict[str, Any]:
    config = bot_config(url, instance_id="paper")
    config["bot"]["database_url"] = f"sqlite:///{tmp / 'paper.sqlite'}"
    config["markets"] = config["markets"][:1]
    config["strategies"]["mm"]["markets"] = ["fx:BTC/USDT"]
    config["venues"]["fx"] = {
        "kind": "paper", "exchange": "binance", "urls": url, "options": BINANCE_LOCAL_OPTIONS,
        "maker_fee_bps": "1", "taker_fee_bps": "5", "rate_limit_ms": 1, "backoff_base_s": 0.05,
        "backoff_max_s": 0.5, "order_latency_ms": 2, "initial_balances": BALANCES,
        "record_dir": str(tmp / "rec"),
    }  # fmt: skip
    return config


async def paper_session(tmp: Path) -> dict[str, Any]:
    venue = MockVenueParams.model_validate(facade_config(seed=11, taker_rate_per_s=8.0)["venues"]["fx"])
    handle = await serve_facade("127.0.0.1", 0, venue, "k", "s")
    try:
        config = paper_config(handle.url, tmp)
        await Bot(validate_config(config), tmp).run(duration_s=SESSION_S)
    finally:
        await handle.stop()
    return config


def compare(tmp: Path, config: dict[str, Any], name: str, **venue: Any) -> dict[str, Any]:
    [recording] = (tmp / "rec").glob("*.npz")
    replay = {
        "kind": "replay", "data": recording.name, "queue_model": "risk_averse", "order_latency_ms": 2,
        "maker_fee_bps": "1", "taker_fee_bps": "5", "initial_balances": BALANCES,
        "fill_on_crossing_book": False, "book_depth": 50, **venue,
    }  # fmt: skip
    bt = {**config, "venues": {"fx": replay}, "bot": {**config["bot"], "database_url": "sqlite:///x.sqlite"}}
    (tmp / "rec" / f"{name}.toml").write_text(tomli_w.dumps(bt))
    out = tmp / name
    argv = ["backtest", "--config", str(tmp / "rec" / f"{name}.toml"), "--out", str(out), "--quiet"]
    assert main([*argv, "--compare", f"{tmp / 'paper.sqlite'}:paper"]) == 0
    return dict(json.loads((out / "compare.json").read_text()))


def moved(rec: Path, out: Path, first_row_ms: int) -> int:
    """A copy of the recording and its timing, every time moved so the first row falls
    `first_row_ms` after a whole second; returns the move (ns)."""
    [data_path] = rec.glob("*.npz")
    [timing] = rec.glob("*.timing.json")
    d = load_events(data_path)
    first = int(d.exch_ts_ns[0])
    move = first // 1_000_000_000 * 1_000_000_000 + first_row_ms * 1_000_000 - first
    columns = {**d.columns(), "exch_ts_ns": d.exch_ts_ns + move, "local_ts_ns": d.local_ts_ns + move}
    save_events(out / data_path.name, make_event_data(d.meta, **columns))
    head, *rows = timing.read_text().splitlines()
    lines = [head] + [json.dumps([r[0], *(t + move for t in r[1:4]), *r[4:]]) for r in map(json.loads, rows)]
    (out / timing.name).write_text("\n".join(lines) + "\n")
    (out / "timed.toml").write_text((rec / "timed.toml").read_text())
    return move


def replayed_fills(out: Path, move_ns: int = 0) -> list[tuple[object, ...]]:
    store = Store(f"sqlite:///{out / 'backtest.sqlite'}", "paper")
    try:
        fills = store.fills()
    finally:
        store.close()
    return sorted((f.exchange_ts_ns - move_ns, f.side, f.price_ticks, f.size_lots, f.fee) for f in fills)


def test_a_real_time_paper_session_replayed_with_its_timing_matches_fill_for_fill(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = asyncio.run(paper_session(tmp_path))
    [timing] = (tmp_path / "rec").glob("*.timing.json")
    same = compare(tmp_path, config, "timed", session_timing=timing.name)
    total, seq = same["total"], same["fill_sequence"]
    assert total["fills"]["session"] >= 5
    for figure in ("fills", "volume_quote", "net"):
        assert total[figure]["difference"] == 0.0, figure
    assert seq["matched"] == seq["in_common"] == seq["session"] == seq["backtest"]
    assert seq["first_difference_ns"] is None

    other = compare(tmp_path, config, "synthetic", order_latency_ms=30)
    assert other["total"]["fills"]["session"] == total["fills"]["session"]
    assert other["fill_sequence"]["first_difference_ns"] is not None
    assert other["total"]["net"]["difference"] != 0.0

    (tmp_path / "rec-moved").mkdir()
    move = moved(tmp_path / "rec", tmp_path / "rec-moved", first_row_ms=1)
    out = tmp_path / "moved"
    assert main(["backtest", "--config", str(tmp_path / "rec-moved" / "timed.toml"), "--out", str(out)]) == 0
    assert replayed_fills(out, move) == replayed_fills(tmp_path / "timed")
    capsys.readouterr()
