"""Scheduled jobs: both backends, failures counted and survived; reconciliation and housekeeping."""

import asyncio
import json

from prometheus_client.parser import text_string_to_metric_families
from sqlmodel import Session, select

from bot.app.config import validate_config
from bot.app.lifecycle import Bot
from bot.core.clock import run_simulated
from bot.core.events import FillEvent
from bot.kernel.store_rows import OrderEventRow, OrderRow
from bot.ops.metrics import BotMetrics
from bot.ops.scheduler import JobScheduler
from tests.kit import small_config_dict
from tests.ops.kit import mock_venues, run_with_script, store_path


def job_counts(metrics: BotMetrics) -> dict[tuple[str, str], float]:
    out = {}
    for family in text_string_to_metric_families(metrics.render().decode()):
        for s in family.samples:
            if s.name in ("mmbot_job_runs_total", "mmbot_job_failures_total"):
                out[(s.name, s.labels["job"])] = s.value
    return out


async def test_apscheduler_backend_runs_jobs_and_survives_failures():
    metrics = BotMetrics()
    sched = JobScheduler.for_clock("wall", metrics)
    assert sched.backend == "apscheduler"
    ran = []

    async def ok():
        ran.append(1)

    async def broken():
        raise RuntimeError("venue down")

    sched.add("ok", 0.1, ok)
    sched.add("broken", 0.1, broken)
    sched.start()
    await asyncio.sleep(0.65)
    await sched.shutdown()
    runs, failures = sched.runs["ok"], sched.failures["broken"]
    assert runs >= 3 and failures >= 3 and len(ran) == runs
    assert job_counts(metrics) == {
        ("mmbot_job_runs_total", "ok"): runs,
        ("mmbot_job_failures_total", "broken"): failures,
    }
    await asyncio.sleep(0.3)
    assert sched.runs["ok"] == runs  # nothing runs after shutdown


def test_asyncio_backend_follows_virtual_time_exactly():
    async def main():
        sched = JobScheduler.for_clock("simulated")
        assert sched.backend == "asyncio"
        times = []
        loop = asyncio.get_running_loop()

        async def tick():
            times.append(loop.time())
            if len(times) == 3:
                raise ValueError("third run fails")

        sched.add("tick", 60, tick)
        sched.start()
        await asyncio.sleep(600.5)  # ten minutes of virtual time, instantly
        await sched.shutdown()
        return times, sched

    times, sched = run_simulated(main)
    assert times == [60.0 * i for i in range(1, 11)]
    assert (sched.runs["tick"], sched.failures["tick"]) == (9, 1)


def test_reconciliation_job_recovers_fills_the_stream_lost_and_housekeeping_trims(tmp_path):
    data = small_config_dict(store_path(tmp_path), venues=("va",))
    data["bot"]["jobs"] = {
        "reconcile_interval_s": 30,
        "housekeeping_interval_s": 100,
        "order_event_retention_days": 60 / 86_400,  # one minute
    }
    config = validate_config(data)

    async def script(bot):
        venue = bot.venues["va"]
        sink = venue._sink
        lost = []

        def lossy(event):  # the stream drops every fill event for 100 s
            if isinstance(event, FillEvent):
                lost.append(event)
            else:
                sink(event)

        venue._sink = lossy
        await asyncio.sleep(100)
        venue._sink = sink
        await asyncio.sleep(100)
        return lost, bot.runtime.clock.now_ns()

    async def main():
        venues = mock_venues(config)
        bot = Bot(config, tmp_path, venues=venues)
        lost, end_ns = await run_with_script(bot, 205, script)
        venue_fills = venues["va"].exchange.fills(venues["va"].account_id)
        for v in venues.values():
            await v.close()
        return bot, lost, venue_fills, end_ns

    bot, lost, venue_fills, end_ns = run_simulated(main)
    assert len(lost) > 5
    stored = {(f.symbol, f.venue_trade_id) for f in bot.store.fills("va")}
    assert stored == {(f.symbol, f.venue_trade_id) for f in venue_fills}  # nothing missing
    events = bot.store.events("reconcile_periodic")
    assert sum(json.loads(e.detail)["missed_fills"] for e in events) == len(lost)
    assert bot.scheduler.runs["reconcile"] == 6 and bot.scheduler.failures["reconcile"] == 0
    assert bot.scheduler.runs["housekeeping"] == 2
    with Session(bot.store.engine) as s:
        closed_early = set(
            s.exec(
                select(OrderRow.client_order_id).where(
                    OrderRow.updated_ns < end_ns - 120 * 10**9,  # the t=200 s run cut at 140 s
                    OrderRow.state.in_(["cancelled", "filled"]),
                )
            )
        )
        audited = set(s.exec(select(OrderEventRow.client_order_id)))
    assert closed_early and not closed_early & audited  # trimmed at the 200 s run
    assert audited  # recent orders keep their audit trail
