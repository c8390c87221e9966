"""A recorded paper session (the bot on a MockVenue) replayed through the bot on a replay venue
with the same order latency, fees and balances: how close the fills come.

Measured on this 60 s session: the first fills are identical (same order, price, size, exchange
time); afterwards most replay fills are hits by the very same recorded takers, but not all, and
the replay fills more lots. Two known causes, both outside the queue model:
- the recorder keeps others' liquidity only, so snapshots where only our own orders changed are
  not in the file: the replayed engine gets fewer book events and requotes at slightly different
  times (and so prices), after which the paths drift apart;
- the core's trade-through rule fills our whole remaining order when a trade prints through our
  price, where the mock's FIFO book fills only the taker's size: replay fills are full orders.
"""

from decimal import Decimal

from bot.app import Bot
from bot.backtest.events import DataMeta
from bot.backtest.recorder import BookRecorder
from bot.clock import LoopClock, run_simulated
from bot.config import validate_config
from bot.store import Store
from connectors.mock.venue import MockVenue
from connectors.replay import ReplayVenue
from tests.kit import MOCK_VENUE, small_config_dict

DURATION_S = 60


def one_market_config(db_url, venue):
    data = small_config_dict(db_url, venues=("va",))
    data["markets"] = [m for m in data["markets"] if m["symbol"] == "ETH/USDT"]
    data["strategies"]["mm"]["markets"] = ["va:ETH/USDT"]
    data["venues"]["va"] = venue
    return validate_config(data)


class RecordingBot(Bot):
    """The bot with a BookRecorder on its engine, as a paper session would run it."""

    recorder: BookRecorder

    async def _prepare(self):
        await super()._prepare()
        self.engine.listeners.append(self.recorder)


def run_bot(bot_factory, venue_factory, epoch_ns):
    async def main():
        clock = LoopClock(epoch_ns=epoch_ns)
        venue = venue_factory(clock)
        bot = bot_factory({"va": venue})
        await bot.run(duration_s=DURATION_S)
        await venue.close()
        return bot

    return run_simulated(main)


def test_replaying_a_recorded_paper_session_reproduces_its_fills_within_tolerance(tmp_path):
    mock = dict(MOCK_VENUE, seed=3)
    paper = one_market_config(f"sqlite:///{tmp_path}/paper.sqlite", mock)
    mp = paper.venues["va"]
    market = next(m for m in mp.markets if m.symbol == "ETH/USDT")
    epoch_ns = int(paper.bot.sim_start.timestamp() * 1e9)

    def paper_bot(venues):
        bot = RecordingBot(paper, tmp_path, venues=venues)
        bot.recorder = BookRecorder(DataMeta("va", "ETH/USDT", market.tick_size, market.lot_size))
        return bot

    recorded = run_bot(paper_bot, lambda clock: MockVenue("va", mp, clock), epoch_ns)
    path = recorded.recorder.save(tmp_path / "paper.npz")

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
    run_bot(
        lambda venues: Bot(replay, tmp_path, venues=venues),
        lambda clock: ReplayVenue("va", replay.venues["va"], clock),
        epoch_ns,
    )
    paper_fills = Store(paper.bot.database_url).fills()
    replay_fills = Store(replay.bot.database_url).fills()
    assert len(paper_fills) > 20 and len(replay_fills) > 10

    def key(f):
        return (f.client_order_id, f.side, f.price_ticks, f.size_lots, f.exchange_ts_ns, f.is_maker, f.fee)

    # identical until the first requote the file cannot time exactly
    assert key(replay_fills[0]) == key(paper_fills[0])
    assert Decimal(replay_fills[0].fee) == Decimal(paper_fills[0].fee) != 0
    # most replay fills are hits by a taker that hit us in the paper session too
    paper_events = {(f.exchange_ts_ns, f.side) for f in paper_fills}
    same = sum((f.exchange_ts_ns, f.side) in paper_events for f in replay_fills)
    assert same >= 0.6 * len(replay_fills), (same, len(replay_fills), len(paper_fills))
    # filled lots per side within a factor of two (full fills on trade-through, see above)
    for side in ("buy", "sell"):
        paper_lots = sum(f.size_lots for f in paper_fills if f.side == side)
        replay_lots = sum(f.size_lots for f in replay_fills if f.side == side)
        assert paper_lots / 2 <= replay_lots <= paper_lots * 2, (side, paper_lots, replay_lots)
