"""Notifications: outbox and token bucket, a local webhook / Telegram receiver, a running bot."""

import asyncio
import copy
import logging
from decimal import Decimal

import tomli_w

from bot.app.config import validate_config
from bot.app.lifecycle import Bot
from bot.core.clock import run_simulated
from bot.core.events import VenueStatus
from bot.kernel.store import Store
from bot.ops.notify import Message, Notifier, Outbox, TelegramSink, TokenBucket, WebhookSink, sinks_from_env
from bot.ops.settings import NotifyConfig
from tests.kit import small_config_dict
from tests.ops.kit import crash_fair_price, mock_venues, run_with_script, store_path
from tests.ops.receiver import Receiver

TG_TOKEN = "123456:tg-test-token-9f8e7d"


def test_token_bucket_spends_its_burst_then_refills_at_its_rate():
    bucket = TokenBucket(capacity=2, rate_per_s=0.5, now_s=100.0)
    assert bucket.take(100.0) == 0.0 and bucket.take(100.0) == 0.0
    assert bucket.take(100.0) == 2.0  # one token every 2 s
    assert bucket.take(101.0) == 1.0  # half a token there
    assert bucket.take(102.0) == 0.0
    assert bucket.take(110.0) == 0.0 and bucket.take(110.0) == 0.0  # never above capacity
    assert bucket.take(110.0) == 2.0


def test_outbox_coalesces_repeats_moves_them_back_and_drops_when_full():
    box = Outbox(max_len=2)
    assert box.put("a", Message("pause", "a1", 1)) == "queued"
    assert box.put("b", Message("resume", "b1", 2)) == "queued"
    assert box.put("a", Message("pause", "a2", 3)) == "coalesced"
    assert box.put("c", Message("alert", "c1", 4)) == "dropped"
    assert box.put("d", Message("alert", "d1", 5)) == "dropped"
    first, second = box.pop(), box.pop()
    assert (first.text, first.repeats, first.dropped_before) == ("b1", 1, 2)
    assert (second.text, second.repeats, second.ts_ns, second.dropped_before) == ("a2", 2, 3, 0)
    assert box.pop() is None and len(box) == 0


def test_sinks_come_from_the_env_vars_the_config_names(monkeypatch):
    config = NotifyConfig(webhook_url_env="T_HOOK", telegram_token_env="T_TG", telegram_chat_id_env="T_CHAT")
    for name in ("T_HOOK", "T_TG", "T_CHAT"):
        monkeypatch.delenv(name, raising=False)
    assert sinks_from_env(config) == []
    monkeypatch.setenv("T_HOOK", "http://127.0.0.1:1/hook-secret-path")
    monkeypatch.setenv("T_TG", TG_TOKEN)
    assert [type(s) for s in sinks_from_env(config)] == [WebhookSink]  # no chat id: Telegram off
    monkeypatch.setenv("T_CHAT", "-10042")
    sinks = sinks_from_env(config)
    assert [type(s) for s in sinks] == [WebhookSink, TelegramSink]
    assert "hook-secret-path" not in repr(sinks) and TG_TOKEN not in repr(sinks)


async def test_burst_is_rate_limited_and_coalesced_and_telegram_gets_the_same_lines():
    receiver = await Receiver().start()
    config = NotifyConfig(burst=1, rate_per_minute=120, max_queue=3, telegram_api_url=receiver.url)
    notifier = Notifier(
        config, "t1", [WebhookSink(receiver.url + "/hook"), TelegramSink(receiver.url, TG_TOKEN, "-100")]
    )
    notifier.start()
    try:
        notifier.notify("kill_switch", "first", 1)
        await receiver.wait_for("kill_switch")  # the only token is spent
        for i in range(30):  # a burst of one repeated alert and a flood of distinct ones
            notifier.notify("alert", f"hedge failed {i}", 10 + i, key="alert:x:va")
        for i in range(5):
            notifier.notify("pause", f"distinct {i}", 100 + i)
        await notifier.stop(flush_timeout_s=5)
    finally:
        await receiver.stop()
    hooks = receiver.webhook
    assert [(m["kind"], m["repeats"]) for m in hooks] == [
        ("kill_switch", 1),
        ("alert", 30),
        ("pause", 1),
        ("pause", 1),
    ]
    # the latest text and how many, and the next message out says what the full outbox lost
    assert hooks[1]["text"] == "[t1] hedge failed 29 (x30) (3 earlier notifications dropped)"
    assert (hooks[1]["ts_ns"], hooks[1]["dropped_before"]) == (39, 3)
    assert [m["text"] for m in hooks[2:]] == ["[t1] distinct 0", "[t1] distinct 1"]
    assert notifier.outcomes == {"queued": 4, "coalesced": 29, "dropped": 3, "sent": 8}
    assert [token for token, _ in receiver.telegram] == [TG_TOKEN] * 4
    assert [body["text"] for _, body in receiver.telegram] == [m["text"] for m in hooks]
    assert receiver.telegram[0][1]["chat_id"] == "-100"


async def test_failing_telegram_is_logged_once_without_its_token(caplog):
    receiver = await Receiver(telegram_status=401).start()
    notifier = Notifier(NotifyConfig(burst=10), "t1", [TelegramSink(receiver.url, TG_TOKEN, "-100")])
    notifier.start()
    try:
        with caplog.at_level(logging.DEBUG):
            for i in range(3):
                notifier.notify("pause", f"p{i}", i)
            await notifier.stop()
    finally:
        await receiver.stop()
    assert len(receiver.telegram) == 3 and notifier.outcomes["failed"] == 3
    failing = [r for r in caplog.records if "failing" in r.getMessage()]
    assert [r.getMessage() for r in failing] == [
        "notifications via telegram failing (HTTP 401); not logged again until one is sent"
    ]
    assert TG_TOKEN not in caplog.text


def notify_data(tmp_path, **notify):
    data = small_config_dict(store_path(tmp_path), venues=("va",))
    data["bot"]["clock"] = "wall"
    data["bot"]["ops"] = {"enabled": False}
    data["bot"]["notify"] = {
        "webhook_url_env": "MMBOT_TEST_HOOK",
        "telegram_token_env": "MMBOT_TEST_UNSET_TG",
        "venue_disconnect_alert_s": 0.3,
        "fills_summary_interval_s": 1,
        "burst": 20,
        **notify,
    }
    # every order sent counts: 2 markets x 4 quotes trip the order-rate rule at the first check
    data["risk"].update(max_orders_per_minute=5, check_interval_s=0.2)
    return data


def notify_config(tmp_path, **notify):
    return validate_config(notify_data(tmp_path, **notify))


async def test_running_bot_notifies_kill_switch_pause_disconnect_and_fills(tmp_path, monkeypatch):
    receiver = await Receiver().start()
    monkeypatch.setenv("MMBOT_TEST_HOOK", receiver.url + "/hook")
    monkeypatch.delenv("MMBOT_TEST_UNSET_TG", raising=False)
    bot = Bot(notify_config(tmp_path), tmp_path)
    stop = asyncio.Event()
    run = asyncio.create_task(bot.run(stop=stop))
    try:
        trip = await receiver.wait_for("kill_switch")
        pause = await receiver.wait_for("pause")
        summary = await receiver.wait_for("fills_summary")
        bot.runtime.engine.on_event(VenueStatus("va", False, "socket closed", bot.runtime.clock.now_ns()))
        await asyncio.sleep(0.1)
        assert "venue_disconnected" not in receiver.kinds()  # not down long enough yet
        down = await receiver.wait_for("venue_disconnected")
        bot.runtime.engine.on_event(VenueStatus("va", True, "resubscribed", bot.runtime.clock.now_ns()))
        back = await receiver.wait_for("venue_reconnected")
        await bot.resume()
        resumed = await receiver.wait_for("resume")
    finally:
        stop.set()
        await run
        await receiver.stop()
    assert trip["text"].startswith("[t1] kill switch order_rate: ") and trip["instance_id"] == "t1"
    assert "max_orders_per_minute 5" in trip["text"]
    assert pause["text"].startswith("[t1] quoting paused (kill_switch): kill switch order_rate")
    assert summary["detail"]["fills"] >= 0 and "PnL" in summary["text"]
    assert set(summary["detail"]) == {"fills", "volume", "pnl_change_quote", "pnl_total_quote", "period_s"}
    assert down["detail"]["venue"] == "va" and down["detail"]["down_s"] >= 0.3
    assert "socket closed" in down["text"] and back["text"].startswith("[t1] venue va reconnected after")
    assert resumed["text"] == "[t1] quoting resumed (operator) after: " + pause["text"].split(": ", 1)[1]
    assert receiver.telegram == []  # its variables are not set


async def test_a_hanging_endpoint_never_delays_quoting(tmp_path, monkeypatch, caplog):
    receiver = await Receiver(hang=True).start()
    monkeypatch.setenv("MMBOT_TEST_HOOK", receiver.url + "/hook")
    config = notify_config(tmp_path, send_timeout_s=0.5, max_queue=5, fills_summary_interval_s=0)
    data = config.model_dump(mode="json")
    data["risk"].pop("max_orders_per_minute")  # keep quoting
    bot = Bot(validate_config(data), tmp_path)
    stop = asyncio.Event()
    run = asyncio.create_task(bot.run(stop=stop))
    try:
        with caplog.at_level(logging.WARNING, logger="mmbot.notify"):
            while not bot.started or bot.runtime.orders.counters.placed == 0:
                await asyncio.sleep(0.02)
            for i in range(200):  # far more than the outbox holds, while the endpoint hangs
                bot.notifications.hooks.on_risk_alert("pause", f"flood {i}")
            placed, events = bot.runtime.orders.counters.placed, bot.runtime.engine.events_processed
            await asyncio.sleep(1.5)
            during = bot.runtime.orders.counters.placed - placed, bot.runtime.engine.events_processed - events
            outcomes = dict(bot.notifications.notifier.outcomes)
            waiting = len(bot.notifications.notifier.outbox)
    finally:
        stop.set()
        await run
        await receiver.stop()
    assert receiver.started >= 2 and receiver.webhook == []  # requests went out, none answered
    assert during[0] > 0 and during[1] > 0  # quotes and events kept flowing meanwhile
    assert outcomes["queued"] == 5 and outcomes["dropped"] == 195 and outcomes["failed"] >= 2
    assert waiting <= 5
    messages = [r.getMessage() for r in caplog.records]
    assert sum("outbox full" in m for m in messages) == 1
    assert sum("via webhook failing (no answer in 0.5s)" in m for m in messages) == 1


def test_simulated_run_notifies_trip_pause_resume_and_exact_fill_summaries(tmp_path, monkeypatch):
    """The drawdown crash of test_risk_pause on virtual time, the receiver in the same loop."""
    data = small_config_dict(store_path(tmp_path), venues=("va",))
    data["markets"][0]["target_base"] = "0.9"
    data["risk"].update(max_drawdown_quote="300", check_interval_s=1, pause_cooldown_s=120)
    data["bot"]["notify"] = {"webhook_url_env": "MMBOT_TEST_HOOK", "fills_summary_interval_s": 60}
    config = validate_config(data)

    async def script(bot):
        await asyncio.sleep(10)
        crash_fair_price(bot.venues["va"], "BTC/USDT", 0.7)
        await asyncio.sleep(190)

    async def main():
        receiver = await Receiver().start()
        monkeypatch.setenv("MMBOT_TEST_HOOK", receiver.url + "/hook")
        venues = mock_venues(config)
        bot = Bot(config, tmp_path, venues=venues)
        try:
            await run_with_script(bot, 200, script)
        finally:
            for v in venues.values():
                await v.close()
            await receiver.stop()
        return receiver

    receiver = run_simulated(main)
    kinds = receiver.kinds()
    assert kinds.count("fills_summary") == 3  # at 60, 120 and 180 s
    events = [k for k in kinds if k != "fills_summary"]
    assert events == ["kill_switch", "pause", "resume"]
    hooks = {m["kind"]: m for m in receiver.webhook}
    assert hooks["kill_switch"]["text"].startswith("[t1] kill switch drawdown: PnL ")
    assert hooks["resume"]["text"].startswith("[t1] quoting resumed (cool-down) after: kill switch drawdown")
    trip_s = (hooks["kill_switch"]["ts_ns"] - int(config.bot.sim_start.timestamp() * 1e9)) / 1e9
    assert 10 < trip_s < 16
    summaries = [m["detail"] for m in receiver.webhook if m["kind"] == "fills_summary"]
    assert [s["period_s"] for s in summaries] == [60.0, 60.0, 60.0]
    n = sum(s["fills"] for s in summaries)
    fills = Store(config.bot.database_url, config.bot.instance_id).fills()
    assert 0 < n <= len(fills)
    # summaries add up to exactly the first n stored fills' volume
    volume = sum(Decimal(s["volume"].get("USDT", "0")) for s in summaries)
    assert volume == sum(Decimal(f.price) * Decimal(f.size) for f in fills[:n])
    total = Decimal(summaries[-1]["pnl_total_quote"])
    assert sum(Decimal(s["pnl_change_quote"]) for s in summaries) == total < -300


async def test_a_rejected_reload_is_notified_and_the_old_config_runs_on(tmp_path, monkeypatch):
    receiver = await Receiver().start()
    monkeypatch.setenv("MMBOT_TEST_HOOK", receiver.url + "/hook")
    data = notify_data(tmp_path, fills_summary_interval_s=0)
    data["risk"].update(max_orders_per_minute=10_000)  # no kill-switch trip in this test
    path = tmp_path / "bot.toml"
    path.write_text(tomli_w.dumps(data))
    bot = Bot(validate_config(data), tmp_path, config_path=path)
    stop = asyncio.Event()
    run = asyncio.create_task(bot.run(stop=stop))
    try:
        while not bot.started:
            await asyncio.sleep(0.05)
        bad = copy.deepcopy(data)
        bad["strategies"]["mm"]["half_spread_bps"] = -1
        path.write_text(tomli_w.dumps(bad))
        assert await bot.reload_config() is False
        rejected = await receiver.wait_for("reload_rejected")
    finally:
        stop.set()
        await run
        await receiver.stop()
    assert rejected["text"].startswith("[t1] config reload rejected, still running the previous config: ")
    assert "strategies.mm.half_spread_bps" in rejected["text"]
    assert bot.config.strategies["mm"].half_spread_bps == data["strategies"]["mm"]["half_spread_bps"]
