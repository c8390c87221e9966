"""`mmbot backtest --compare`: a paper session (the bot on a MockVenue, simulated clock) recorded
at the venue (bot/backtest/paper_recorder.py), replayed by `mmbot backtest` on its recording with
the session's order latency: the comparison shows no difference at all, fill for fill. Replayed
with another latency, the same comparison shows the tracking error that latency makes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from bot.app.config import validate_config
from bot.app.lifecycle import Bot
from bot.backtest.compare import Span, hour_edges, parse_session_store
from bot.backtest.paper_recorder import PaperRecorder
from bot.cli import main
from bot.core.clock import LoopClock, run_simulated
from bot.core.config_base import ConfigError
from bot.kernel.store import Store
from connectors.mock.params import MockVenueParams
from connectors.mock.venue import MockVenue
from connectors.replay.recorded_latency import (
    RecordedLatency,
    SessionTimingError,
    SyntheticLatency,
    TimingLog,
    Trip,
    load_timing,
)
from tests.kit import MOCK_VENUE, small_config_dict

DURATION_S = 120
SYMBOL = "ETH/USDT"


def one_market(db_url: str, venue: dict[str, Any]) -> dict[str, Any]:
    data = small_config_dict(db_url, venues=("va",))
    data["markets"] = [m for m in data["markets"] if m["symbol"] == SYMBOL]
    data["strategies"]["mm"]["markets"] = [f"va:{SYMBOL}"]
    data["venues"]["va"] = venue
    return data


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, Any]]:
    """(session store, its recording, the session's mock venue params as a dict)."""
    tmp = tmp_path_factory.mktemp("cmp")
    store = tmp / "paper.sqlite"
    config = validate_config(one_market(f"sqlite:///{store}", dict(MOCK_VENUE, seed=3)))
    params = config.venues["va"]
    assert isinstance(params, MockVenueParams)
    recorders: list[PaperRecorder] = []

    async def run() -> None:
        clock = LoopClock(epoch_ns=int(config.bot.sim_start.timestamp() * 1e9))
        venue = MockVenue("va", params, clock)
        recorders.append(PaperRecorder(venue, SYMBOL))
        await Bot(config, tmp, venues={"va": venue}).run(duration_s=DURATION_S)
        await venue.close()

    run_simulated(run)
    market = next(m for m in params.markets if m.symbol == SYMBOL)
    replay = {
        "kind": "replay",
        "data": "unused.npz",
        "queue_model": "risk_averse",
        "order_latency_ms": params.order_latency_ms,
        "maker_fee_bps": str(market.maker_fee_bps),
        "taker_fee_bps": str(market.taker_fee_bps),
        "initial_balances": {k: str(v) for k, v in params.initial_balances.items()},
    }
    return store, recorders[0].save(tmp / "paper.npz"), replay


def backtest_compare(
    tmp_path: Path,
    session: tuple[Path, Path, dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
    **venue: Any,
) -> dict[str, Any]:
    store, recording, replay = session
    config = one_market("sqlite:///unused.sqlite", {**replay, **venue})
    (tmp_path / "bt.toml").write_text(tomli_w.dumps(config))
    out = tmp_path / "out"
    argv = ["backtest", "--config", str(tmp_path / "bt.toml"), "--data", str(recording), "--out", str(out)]
    assert main([*argv, "--compare", f"{store}:t1"]) == 0
    printed = capsys.readouterr().out
    assert "# Tracking error: backtest vs session" in printed
    report = json.loads((out / "compare.json").read_text())
    assert (out / "compare.md").read_text() in printed
    return report


def session_fill_count(store: Path) -> int:
    s = Store(f"sqlite:///{store}", "t1")
    try:
        return len(s.fills())
    finally:
        s.close()


def test_a_session_and_its_replay_with_the_same_latency_show_no_difference(
    tmp_path: Path, session: tuple[Path, Path, dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    report = backtest_compare(tmp_path, session, capsys)
    total = report["total"]
    assert total["fills"]["session"] == session_fill_count(session[0]) >= 50
    for figure in ("fills", "volume_quote", "net", "markout_1m"):
        assert total[figure]["difference"] == 0.0, figure
        assert total[figure]["session"] != 0.0, figure
    seq = report["fill_sequence"]
    assert (
        seq["matched"] == seq["in_common"] == seq["session"] == seq["backtest"] == total["fills"]["session"]
    )
    assert seq["first_difference_ns"] is None
    assert [m["session_market"] for m in report["markets"].values()] == [f"va:{SYMBOL}"]
    for hour in report["by_hour_utc"]:
        assert all(hour[k]["difference"] == 0.0 for k in ("fills", "volume_quote", "net"))
    assert sum(h["fills"]["session"] for h in report["by_hour_utc"]) == total["fills"]["session"]


def test_a_replay_with_another_latency_shows_the_tracking_error(
    tmp_path: Path, session: tuple[Path, Path, dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    report = backtest_compare(tmp_path, session, capsys, order_latency_ms=60)
    total = report["total"]
    assert total["fills"]["session"] == session_fill_count(session[0])
    assert total["fills"]["difference"] != 0 or total["volume_quote"]["difference"] != 0.0
    assert total["net"]["difference"] != 0.0
    seq = report["fill_sequence"]
    assert seq["matched"] <= seq["in_common"] < seq["session"]
    assert seq["first_difference_ns"] is not None
    net = total["net"]
    assert net["difference"] == pytest.approx(net["backtest"] - net["session"], abs=1e-9)


def test_the_store_argument_names_a_file_or_url_and_an_optional_instance(tmp_path: Path) -> None:
    db = tmp_path / "s.sqlite"
    db.touch()
    assert parse_session_store(str(db), "mm1").instance_id == "mm1"
    ref = parse_session_store(f"{db}:paper", "mm1")
    assert (ref.url, ref.instance_id) == (f"sqlite:///{db}", "paper")
    ref = parse_session_store(f"sqlite:///{db}:paper", "mm1")
    assert (ref.url, ref.instance_id) == (f"sqlite:///{db}", "paper")
    ref = parse_session_store("postgresql://u:secret@db:5432/mm", "mm1")
    assert (ref.url, ref.instance_id) == ("postgresql://u:secret@db:5432/mm", "mm1")
    assert "secret" not in ref.shown
    with pytest.raises(ConfigError, match="--compare: no such store file"):
        parse_session_store(str(tmp_path / "missing.sqlite"), "mm1")


def test_hours_are_whole_utc_hours_within_the_span() -> None:
    h = 3600 * 10**9
    edges = hour_edges(Span(10 * h + 5, 12 * h + 7, {}))
    assert edges.tolist() == [10 * h + 5, 11 * h, 12 * h, 12 * h + 7]
    assert hour_edges(Span(10 * h + 5, 10 * h + 9, {})).tolist() == [10 * h + 5, 10 * h + 9]


def test_recorded_latency_gives_each_session_request_its_own_latencies(tmp_path: Path) -> None:
    log = TimingLog("pv", tmp_path / "pv.timing.json", flush_rows=1)  # written as they come
    log.add("start_streams#0", 100, 900, 900)
    log.add("place:a-1", 1_000, 1_017, 1_040)  # 17 ns out, 23 back
    assert log.rows == [] and len(load_timing(log.path)) == 2
    trips = load_timing(log.save())
    model = RecordedLatency(trips, SyntheticLatency(lambda: 5))
    assert model.trip("place:a-1", 990) == Trip(1_007, 1_030, exact=True)  # from the replay's call
    assert model.trip("place:a-2", 990) == Trip(995, 1_000, exact=False)  # not the session's
    assert (model.replayed, model.missed) == (1, 1)
    assert model.streams_started_ns("start_streams#0") == 900
    # with the session's requote rounds replayed, a request reaches the matching when it did
    log.add_round("round#0", 990, (0,))
    log.add_round("round#1", 2_000, ())  # no markets: where the session's bot stopped
    model = RecordedLatency(load_timing(log.save()), SyntheticLatency(lambda: 5))
    assert model.rounds == [("round", 990, (0,)), ("round", 2_000, ())]
    model.aligned = True
    assert model.trip("place:a-1", 990) == Trip(1_017, 1_040, exact=True)
    assert model.trip("place:a-1", 1_010) == Trip(1_027, 1_050, exact=True)  # called later: late
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(SessionTimingError, match=r"bad\.json is not a session timing file"):
        load_timing(tmp_path / "bad.json")
