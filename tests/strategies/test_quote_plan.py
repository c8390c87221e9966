"""The workspace's config plan: rebuilt when params change, and the aligned memory it relies on."""

from __future__ import annotations

import numpy as np
import pytest

from bot.kernel.targets import QuoteTargets
from strategies.quoting.arrays import CACHE_LINE_BYTES, QuoteInputs, QuoteParams, aligned_empty
from strategies.quoting.core import QuoteWorkspace, compute_quotes
from strategies.quoting.models import QuoteModel
from tests.strategies.reference_quotes import reference_quotes

NOW = 1_700_000_000_000_000_000
FIELDS = ("bid_price_ticks", "bid_size_lots", "ask_price_ticks", "ask_size_lots")


def markets(n: int = 6) -> tuple[QuoteInputs, QuoteParams]:
    inputs = QuoteInputs.empty(n)
    inputs.fair_price[:] = np.linspace(90.0, 110.0, n)
    inputs.best_bid[:] = inputs.fair_price * 0.9995
    inputs.best_ask[:] = inputs.fair_price * 1.0005
    inputs.volatility[:] = 0.02
    inputs.intensity_a[:] = 1.0
    inputs.intensity_kappa[:] = 10.0
    inputs.inventory_lots[:] = np.linspace(-60.0, 60.0, n)
    params = QuoteParams.uniform(
        n, 3, tick_size=0.01, lot_size=1.0, gamma=0.1, size_shape_eta=0.5, level_size_lots=10.0
    )
    params.model[:] = np.arange(n) % 3
    params.validate()
    return inputs, params


def assert_matches_reference(t: QuoteTargets, inputs: QuoteInputs, params: QuoteParams) -> None:
    ref = reference_quotes(inputs, params, now_ns=NOW)
    for name in FIELDS:
        np.testing.assert_array_equal(getattr(t, name), getattr(ref, name), err_msg=name)


def test_prepare_after_in_place_edits_and_replaced_fields_are_noticed() -> None:
    inputs, params = markets()
    ws = QuoteWorkspace(params.n_markets, params.n_levels)
    before = compute_quotes(inputs, params, now_ns=NOW, workspace=ws).bid_price_ticks.copy()
    plan = ws.plan
    # in-place config edit (what write_slot does), then prepare: the new values are used
    params.min_spread_bps[:] = 80.0
    params.model[:] = QuoteModel.FIXED_SPREAD
    params.validate()
    ws.prepare(params)
    assert ws.plan is not plan
    t = compute_quotes(inputs, params, now_ns=NOW, workspace=ws)
    assert_matches_reference(t, inputs, params)
    assert (t.bid_price_ticks[:, 0] < before[:, 0]).all()  # 80 bps total spread is wider
    # a replaced field array, or another params object, rebuilds the plan without being asked
    plan = ws.plan
    params.level_spacing_bps = np.full(params.n_markets, 20.0)
    t = compute_quotes(inputs, params, now_ns=NOW, workspace=ws)
    assert ws.plan is not plan
    assert_matches_reference(t, inputs, params)
    other = QuoteParams.uniform(params.n_markets, params.n_levels, tick_size=0.01, lot_size=1.0)
    assert_matches_reference(compute_quotes(inputs, other, now_ns=NOW, workspace=ws), inputs, other)
    assert ws.plan is not None and ws.plan.params is other


def test_workspace_returns_one_targets_object_and_rejects_other_shapes() -> None:
    inputs, params = markets()
    ws = QuoteWorkspace(params.n_markets, params.n_levels)
    first = compute_quotes(inputs, params, now_ns=NOW, workspace=ws)
    assert compute_quotes(inputs, params, now_ns=NOW, workspace=ws) is first
    with pytest.raises(ValueError, match="6 markets x 3 levels, workspace 6 x 4"):
        compute_quotes(inputs, params, now_ns=NOW, workspace=QuoteWorkspace(6, 4))
    inputs.toxicity_ask_bps = np.zeros(5)
    with pytest.raises(ValueError, match=r"QuoteInputs\.toxicity_ask_bps has 5 markets, expected 6"):
        compute_quotes(inputs, params, now_ns=NOW, workspace=ws)


@pytest.mark.parametrize("shape", [1, 7, (2, 3, 5), (3, 1000)])
def test_aligned_arrays_start_on_a_cache_line(shape: int | tuple[int, ...]) -> None:
    for dtype in (np.float64, np.int64, np.bool_):
        a = aligned_empty(shape, dtype)
        assert a.ctypes.data % CACHE_LINE_BYTES == 0
        assert a.shape == ((shape,) if isinstance(shape, int) else shape)
        assert a.dtype == dtype and a.flags.c_contiguous and a.flags.writeable
    inputs = QuoteInputs.empty(13)
    assert all(getattr(inputs, f).ctypes.data % CACHE_LINE_BYTES == 0 for f in inputs.__slots__)  # type: ignore[attr-defined]


def test_sizes_limits_and_sessions_edited_per_requote_need_no_prepare() -> None:
    """multi_venue sets level sizes and limits in place every requote; core_strategy rolls sessions."""
    inputs, params = markets()
    ws = QuoteWorkspace(params.n_markets, params.n_levels)
    compute_quotes(inputs, params, now_ns=NOW, workspace=ws)
    plan = ws.plan
    params.level_size_lots[:] = [3.0, 7.0, 12.0, 5.0, 9.0, 30.0]  # GLFT's order size too
    params.max_inventory_lots[:] = 40.0
    params.session_end_ns[1::3] = NOW + 20 * 10**9
    t = compute_quotes(inputs, params, now_ns=NOW, workspace=ws)
    assert ws.plan is plan
    assert_matches_reference(t, inputs, params)
    # short 36 of a 40-lot limit: bids full at the new 7 lots, asks only the 4 lots left
    assert (t.bid_size_lots[1].tolist(), t.ask_size_lots[1].tolist()) == ([7, 7, 7], [4, 0, 0])
