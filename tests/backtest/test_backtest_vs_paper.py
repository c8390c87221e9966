"""A paper session (the bot on a MockVenue) recorded at the venue, then replayed through the same
bot on a replay venue with the same order latency, fees and balances: the fills are the same,
one for one (order, side, price, size, maker, fee, and the exchange time to the nanosecond).

The recording (bot/backtest/paper_recorder.py) is the market without us: everyone else's depth
after every change, every print another participant's order made (those against our resting
orders too: the aggressors who came), and where the venue published its book. The replay adds
our orders back and matches them by the mock venue's own rules: price-time priority, a print
fills at most its size, queue position behind the others' liquidity that was there first
(risk-averse model: exact here, since every level of others holds one order at a time). The
bot gets the same events at the same times, so it sends the same orders. Seeds 1-10 at 300 s
(about 200 fills each) matched too when this was written; 180 s keeps the test to seconds.

What this cannot show: the mock's background flow reacts to our orders (its ladder is re-posted
when one of its orders trades, informed takers look at the best price, ours included), so a
backtest of *other* parameters on this file is the market as it was, without that reaction.
"""

from decimal import Decimal

from bot.app.config import validate_config
from bot.app.lifecycle import Bot
from bot.backtest.paper_recorder import PaperRecorder
from bot.core.clock import LoopClock, run_simulated
from bot.kernel.store import Store
from connectors.mock.venue import MockVenue
from connectors.replay.venue import ReplayVenue
from tests.kit import MOCK_VENUE, small_config_dict

DURATION_S = 180  # about 130 fills in a few seconds


def one_market_config(db_url, venue):
    data = small_config_dict(db_url, venues=("va",))
    data["markets"] = [m for m in data["markets"] if m["symbol"] == "ETH/USDT"]
    data["strategies"]["mm"]["markets"] = ["va:ETH/USDT"]
    data["venues"]["va"] = venue
    return validate_config(data)


def run_bot(config, tmp_path, venue_factory, epoch_ns):
    async def main():
        clock = LoopClock(epoch_ns=epoch_ns)
        venue = venue_factory(clock)
        bot = Bot(config, tmp_path, venues={"va": venue})
        await bot.run(duration_s=DURATION_S)
        await venue.close()
        return venue

    return run_simulated(main)


def test_replaying_a_recorded_paper_session_reproduces_its_fills_one_for_one(tmp_path):
    paper = one_market_config(f"sqlite:///{tmp_path}/paper.sqlite", dict(MOCK_VENUE, seed=3))
    mp = paper.venues["va"]
    market = next(m for m in mp.markets if m.symbol == "ETH/USDT")
    epoch_ns = int(paper.bot.sim_start.timestamp() * 1e9)

    recorders = []

    def paper_venue(clock):
        venue = MockVenue("va", mp, clock)
        recorders.append(PaperRecorder(venue, "ETH/USDT"))
        return venue

    run_bot(paper, tmp_path, paper_venue, epoch_ns)
    path = recorders[0].save(tmp_path / "paper.npz")

    replay_venue = {
        "kind": "replay",
        "data": str(path),
        "queue_model": "risk_averse",
        "order_latency_ms": mp.order_latency_ms,
        "maker_fee_bps": str(market.maker_fee_bps),
        "taker_fee_bps": str(market.taker_fee_bps),
        "initial_balances": {k: str(v) for k, v in mp.initial_balances.items()},
    }
    replay = one_market_config(f"sqlite:///{tmp_path}/replay.sqlite", replay_venue)
    rp = replay.venues["va"]
    replayed = run_bot(replay, tmp_path, lambda clock: ReplayVenue("va", rp, clock), epoch_ns)

    def fills(config):
        # exchange-time order; one sweep's fills share a time and are stored in either order
        rows = Store(config.bot.database_url, config.bot.instance_id).fills()
        return sorted(rows, key=lambda f: (f.exchange_ts_ns, f.client_order_id))

    paper_fills, replay_fills = fills(paper), fills(replay)

    def key(f):
        return (f.client_order_id, f.side, f.price_ticks, f.size_lots, f.exchange_ts_ns, f.is_maker, f.fee)

    assert len(paper_fills) >= 100
    assert [key(f) for f in replay_fills] == [key(f) for f in paper_fills]
    assert sum(Decimal(f.fee) for f in replay_fills) == sum(Decimal(f.fee) for f in paper_fills) != 0
    # partial fills are reproduced too, not just whole orders
    assert any(f.size_lots < 10 for f in paper_fills)
    assert replayed.snapshots_published > 0
