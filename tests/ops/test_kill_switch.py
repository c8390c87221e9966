"""KillSwitch rules on scripted samples: exact trip points, cool-downs, resets."""

from decimal import Decimal

from bot.kernel.kill_switch import DAY_NS, KillSwitch, RiskSample
from bot.kernel.risk_config import RiskConfig

S = 1_000_000_000
T0 = 20_000 * DAY_NS + 3600 * S  # 01:00 UTC on some day


def sample(t_s: float, pnl: str = "0", inv: str = "0", sent: int = 0, **mids: float) -> RiskSample:
    return RiskSample(T0 + int(t_s * S), Decimal(pnl), Decimal(inv), sent, dict(mids))


def test_all_rules_off_by_default_never_trip():
    ks = KillSwitch(RiskConfig())
    for i, pnl in enumerate(["0", "1000", "-1000000"]):
        assert ks.check(sample(i, pnl, inv="1e12", sent=10**9 * i, m=100.0 * 10**i)) is None


def test_trailing_drawdown_trips_past_the_limit_from_the_peak():
    ks = KillSwitch(RiskConfig(max_drawdown_quote=Decimal("50")))
    assert ks.check(sample(0, "0")) is None
    assert ks.check(sample(1, "120")) is None  # new peak
    assert ks.check(sample(2, "70")) is None  # exactly 50 below: not past it
    trip = ks.check(sample(3, "69.5"))
    assert trip is not None and trip.rule == "drawdown"
    assert (trip.value, trip.limit) == (50.5, 50.0)
    assert trip.resume_after_ns is None  # no cool-down configured: operator only
    assert ks.check(sample(4, "0")) is None  # stays tripped, no second trip
    assert ks.tripped is trip
    ks.reset(sample(5, "0"), by_operator=True)
    assert ks.peak_pnl == 0 and ks.check(sample(6, "-50")) is None


def test_daily_loss_counts_from_midnight_and_waits_for_the_next_day():
    ks = KillSwitch(RiskConfig(daily_loss_limit_quote=Decimal("100"), pause_cooldown_s=60))
    assert ks.check(sample(0, "500")) is None  # first sample of the day: baseline 500
    assert ks.check(sample(10, "401")) is None
    trip = ks.check(sample(20, "399"))
    assert trip is not None and trip.rule == "daily_loss" and trip.value == 101.0
    next_midnight = (T0 // DAY_NS + 1) * DAY_NS
    assert trip.resume_after_ns == next_midnight  # cool-down of 60 s ends earlier than midnight
    assert not ks.auto_resume_due(next_midnight - 1) and ks.auto_resume_due(next_midnight)


def test_inventory_order_rate_and_price_jump():
    ks = KillSwitch(RiskConfig(max_inventory_notional=Decimal("1000"), pause_cooldown_s=30))
    assert ks.check(sample(0, inv="1000")) is None
    trip = ks.check(sample(1, inv="1000.01"))
    assert trip.rule == "inventory" and trip.resume_after_ns == T0 + 31 * S

    ks = KillSwitch(RiskConfig(max_orders_per_minute=100))
    assert ks.check(sample(0, sent=1000)) is None
    assert ks.check(sample(30, sent=1080)) is None
    assert ks.check(sample(59, sent=1100)) is None  # 100 in the window: at the limit
    assert ks.check(sample(61, sent=1180)) is None  # the t=0 sample left the window: 100 since t=30
    trip = ks.check(sample(62, sent=1181))
    assert trip.rule == "order_rate" and trip.value == 101

    ks = KillSwitch(RiskConfig(max_price_jump_pct=5.0))
    assert ks.check(sample(0, a=100.0, b=10.0)) is None
    assert ks.check(sample(1, a=104.9, b=10.4)) is None  # 4.9 % and 4 % since the previous check
    trip = ks.check(sample(2, a=104.9, b=9.8))  # b: -5.77 %
    assert trip.rule == "price_jump" and "b mid moved 5.769%" in trip.message
    ks.reset(sample(3, a=50.0, b=9.8), by_operator=False)  # references restart at the reset
    assert ks.check(sample(4, a=51.0, b=9.8)) is None


def test_cooldown_auto_resume_keeps_the_day_baseline_but_an_operator_resets_it():
    ks = KillSwitch(RiskConfig(daily_loss_limit_quote=Decimal("10"), max_drawdown_quote=Decimal("1000")))
    ks.check(sample(0, "0"))
    assert ks.check(sample(1, "-11")).rule == "daily_loss"
    ks.reset(sample(2, "-11"), by_operator=False)
    assert ks.check(sample(3, "-11")).rule == "daily_loss"  # still down on the day
    ks.reset(sample(4, "-11"), by_operator=True)
    assert ks.check(sample(5, "-20")) is None and ks.day_start_pnl == Decimal("-11")
