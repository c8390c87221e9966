"""What wakes the LP manager: its job on the bot's scheduler, and large moves of the fair market."""

from bot.app.config import validate_config
from bot.app.lifecycle import Bot
from bot.core.clock import run_simulated
from strategies.lp.manager import LpManager
from strategies.lp.params import LpManagerParams
from tests.kit.stubs import book_snapshot, top_of_book
from tests.lp.lp_kit import lp_hedge_config_dict


def test_a_fair_move_beyond_the_trigger_wakes_the_rounds_early():
    lp = LpManager("lp", LpManagerParams(kind="lp_manager", pools=["uni"], event_trigger_bps=50))
    lp._fair_keys = {("va", "ETH/USDT")}
    # the first mid: a reference, no wake
    lp.on_event(top_of_book(299_990, 300_010, venue="va", symbol="ETH/USDT"))
    lp.on_event(top_of_book(301_300, 301_320, venue="va", symbol="ETH/USDT"))  # +44 bp
    lp.on_event(top_of_book(400_000, 400_010, venue="vb", symbol="ETH/USDT"))  # not the fair market
    lp.on_event(book_snapshot((), ((300_000, 1),), venue="va", symbol="ETH/USDT"))  # one-sided: no mid
    assert not lp._wake.is_set()
    lp.on_event(top_of_book(301_500, 301_520, venue="va", symbol="ETH/USDT"))  # +51 bp from the reference
    assert lp._wake.is_set()
    lp._wake.clear()
    lp.on_event(top_of_book(301_700, 301_720, venue="va", symbol="ETH/USDT"))  # +7 bp from the new reference
    assert not lp._wake.is_set()


def test_the_bot_scheduler_drives_the_periodic_rounds(tmp_path):
    data = lp_hedge_config_dict(f"sqlite:///{tmp_path}/bot.sqlite")
    del data["strategies"]["hedge"]
    data["strategies"]["lp"]["check_interval_s"] = 30
    data["strategies"]["lp"]["event_trigger_bps"] = 10_000  # no early wake in this test
    config = validate_config(data)

    async def main():
        bot = Bot(config, tmp_path)
        await bot.run(duration_s=600)
        return bot

    bot = run_simulated(main)
    (lp,) = bot.active_strategies
    assert lp.scheduled and ("lp:lp", 30) in [(j.name, j.interval_s) for j in bot.scheduler.jobs]
    runs = bot.scheduler.runs["lp:lp"]
    assert 19 <= runs <= 20  # every 30 s over 600 s
    assert lp.rounds == runs + 1  # one at start, then one per wake
