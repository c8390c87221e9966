"""benchmarks/quoting_quality.py accounts exactly: PnL from its fills matches the venue's balances,
and markouts are the hand-computed ones (a synthetic fixture, and one fill of a real short run)."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.quoting_quality import Job, RunResult, markouts_bps, pnl_curve, run_one, summarize

NS = 1_000_000_000


def _fixture() -> RunResult:
    result = RunResult(Job("fixed_spread", False, 10.0, 1, 0.1))
    result.grid_ts_ns = [0, 100 * NS, 200 * NS, 300 * NS, 400 * NS]
    result.grid_fair = [100.0, 101.0, 99.0, 98.0, 102.0]
    # buy 2 at 99.9 at t=50 s (fair 100.5), sell 1 at 100.2 at t=150 s (fair 100.0), fee 0.01 each
    result.fill_ts_ns = [50 * NS, 150 * NS]
    result.fill_sign = [1.0, -1.0]
    result.fill_price = [99.9, 100.2]
    result.fill_size = [2.0, 1.0]
    result.fill_fee_quote = [0.01, 0.01]
    result.fill_fair = [100.5, 100.0]
    return result


def test_pnl_is_cash_plus_inventory_at_fair_on_a_fixture() -> None:
    result = _fixture()
    pnl = pnl_curve(result, np.array([0, 100 * NS, 200 * NS, 400 * NS]))
    # t=100 s: cash -199.8 - 0.01, inventory 2 at 101 -> 2.19
    # t=200 s: cash -199.81 + 100.2 - 0.01 = -99.62, inventory 1 at 99 -> -0.62; t=400: +2.38
    assert pnl.tolist() == pytest.approx([0.0, 2.19, -0.62, 2.38], abs=1e-9)


def test_markouts_on_a_fixture_equal_hand_computation() -> None:
    result = _fixture()
    # 60 s: fill 1 -> fair(110 s) = 101 - 0.2 = 100.8; fill 2 -> fair(210 s) = 99 - 0.1 = 98.9
    markout, adverse, n = markouts_bps(result, 60)
    notional = 2 * 99.9 + 1 * 100.2
    assert n == 2
    assert markout == pytest.approx((2 * (100.8 - 99.9) - (98.9 - 100.2)) / notional * 1e4, rel=1e-12)
    assert adverse == pytest.approx((2 * (100.5 - 100.8) - (100.0 - 98.9)) / notional * 1e4, rel=1e-12)
    # 300 s: only the first fill's horizon (350 s) ends inside the grid: fair(350 s) = 100
    markout, adverse, n = markouts_bps(result, 300)
    assert n == 1
    assert markout == pytest.approx((100.0 - 99.9) / 99.9 * 1e4, rel=1e-12)
    assert adverse == pytest.approx((100.5 - 100.0) / 99.9 * 1e4, rel=1e-12)


@pytest.fixture(scope="module")
def short_run() -> RunResult:
    return run_one(Job("fixed_spread", False, 10.0, seed=3, hours=3 / 60))  # 3 simulated minutes


def test_a_short_run_pnl_matches_the_venue_balances(short_run: RunResult) -> None:
    result = short_run
    assert len(result.fill_ts_ns) > 20
    # the fills recorded are all of ours: the venue's balance changes are their sums
    cash = sum(-s * p * q - f for s, p, q, f in zip(result.fill_sign, result.fill_price, result.fill_size,
                                                     result.fill_fee_quote, strict=True))  # fmt: skip
    inventory = sum(s * q for s, q in zip(result.fill_sign, result.fill_size, strict=True))
    assert result.balance_change["USDT"] == pytest.approx(cash, abs=1e-6)
    assert result.balance_change["BTC"] == pytest.approx(inventory, abs=1e-9)
    end_ns = result.grid_ts_ns[-1]
    expected = cash + inventory * result.grid_fair[-1]
    assert pnl_curve(result, np.array([end_ns]))[0] == pytest.approx(expected, abs=1e-6)
    minute_marks = np.array(result.grid_ts_ns[::240])  # GRID_MS 250: a mark a minute
    assert summarize(result)["pnl"] == pytest.approx(pnl_curve(result, minute_marks)[-1])


def test_a_short_run_markout_of_one_fill_equals_hand_computation(short_run: RunResult) -> None:
    result = short_run
    i = 0  # the first fill: its 60 s horizon ends inside the 3-minute run
    t_h = result.fill_ts_ns[i] + 60 * NS
    k = int(np.searchsorted(result.grid_ts_ns, t_h, side="right"))  # grid[k-1] <= t_h < grid[k]
    t0, t1 = result.grid_ts_ns[k - 1], result.grid_ts_ns[k]
    f0, f1 = result.grid_fair[k - 1], result.grid_fair[k]
    fair_h = f0 + (f1 - f0) * (t_h - t0) / (t1 - t0)
    sign, price = result.fill_sign[i], result.fill_price[i]
    one = RunResult(result.job, grid_ts_ns=result.grid_ts_ns, grid_fair=result.grid_fair)
    one.fill_ts_ns, one.fill_sign, one.fill_price = [result.fill_ts_ns[i]], [sign], [price]
    one.fill_size, one.fill_fee_quote, one.fill_fair = [result.fill_size[i]], [0.0], [result.fill_fair[i]]
    markout, adverse, n = markouts_bps(one, 60)
    assert n == 1
    assert markout == pytest.approx(sign * (fair_h - price) / price * 1e4, rel=1e-9)
    assert adverse == pytest.approx(sign * (result.fill_fair[i] - fair_h) / price * 1e4, rel=1e-9)


def test_every_model_sees_the_same_fair_path_for_a_seed(short_run: RunResult) -> None:
    """The pairing by seed rests on this: our quotes and fills draw nothing from the fair path."""
    other = run_one(Job("glft", False, 10.0, seed=3, hours=3 / 60))
    assert other.grid_ts_ns == short_run.grid_ts_ns
    assert other.grid_fair == short_run.grid_fair
    assert other.fill_ts_ns != short_run.fill_ts_ns  # a different model did trade differently
