"""Online flow toxicity per market and side: live markouts of our fills, order-flow imbalance, bursts.

Markouts: each of our fills is kept in a per-market ring buffer (bounded memory); once the fair has
been seen `h` seconds after it, its markout at h is sign * (fair - fill price) / fill price in bps
(sign +1 for our buys: positive = the fill earned money at that horizon). Per side (bid = our buys,
ask = our sells) and horizon, the markouts are averaged with time decay, shrunk toward 0 by a prior
of `markout_prior_fills`, so a side with few or old fills is not toxic.

Order flow: the signed public volume (in our quote sizes) decays with `imbalance_half_life_s`;
imbalance = (buys - sells) / (buys + sells + prior) in (-1, 1). Buyers lift asks: a positive
imbalance makes the ask side toxic, a negative one the bid side.

Bursts: a fill whose first-horizon markout is below -`burst_markout_bps`, or an imbalance beyond
`burst_imbalance`, pulls that side by `pull_bps` (extra half spread) at once; the pull relaxes with
`pull_half_life_s` (a new burst lifts it again).

    toxicity_side = min(markout_gain * max(-mean markout at the control horizon, 0)
                        + imbalance_gain * max(|imbalance| - deadband, 0) / (1 - deadband)  [its side]
                        + pull_bps * burst_side, max_toxicity_bps)

Fills and trades arrive one at a time (O(1) each); `update(fair, now_ns)` takes the due markouts of
every market at once (vectorized) and decays the state. Event times only: no wall clock.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from strategies.quoting.params import ToxicityParams

FloatArray = npt.NDArray[np.float64]
LN2 = math.log(2.0)
BPS = 1e-4
BID, ASK = 0, 1
NEVER_NS = 1 << 62


class ToxicityMonitor:
    """Per-market, per-side toxicity in bps from our markouts and the public tape."""

    def __init__(self, n_markets: int, params: ToxicityParams) -> None:
        n, k = n_markets, params.fills_per_market
        self.n_markets = n
        self.params = params
        self.horizons_ns = (np.asarray(params.markout_horizons_s) * 1e9).astype(np.int64)
        h = self.horizons_ns.size
        # ring buffer of our fills
        self.fill_ts = np.zeros((n, k), dtype=np.int64)
        self.fill_price = np.ones((n, k))
        self.fill_side = np.zeros((n, k), dtype=np.intp)  # BID (we bought) or ASK (we sold)
        self.pending = np.zeros((n, k, h), dtype=bool)  # markout at horizon h still to take
        self._head = np.zeros(n, dtype=np.intp)
        self._pending_per_market = np.zeros(n, dtype=np.int64)  # update() skips rows without
        # No pending markout falls due before this (or it is lower): update() skips the search
        # until then, which would find nothing (most requotes come between two fills' horizons).
        self._next_due_ns = NEVER_NS
        self._first_horizon_ns = int(self.horizons_ns.min()) if h else 0
        # decayed sums of markouts (bps) and fill counts, per (market, side, horizon)
        self.markout_sum = np.zeros((n, 2, h))
        self.markout_weight = np.zeros((n, 2, h))
        self.last_markout_bps = np.full((n, 2, h), np.nan)
        # decayed signed flow, in our quote sizes: Python numbers, since every public print updates
        # one market's (a list item costs a third of a numpy element; the same float64 maths)
        self._buys = [0.0] * n
        self._sells = [0.0] * n
        self._flow_ns = [0] * n
        self._quote_sizes = [1.0] * n  # our quote size per market, lots (set_quote_sizes)
        self.burst = np.zeros((n, 2))  # 1 at a burst, relaxing toward 0
        self.toxicity_bps = np.zeros((n, 2))
        self._updated_ns = 0

    # ---- events (scalar, O(1)) --------------------------------------------------------------------

    def record_fill(self, row: int, we_bought: bool, price: float, ts_ns: int) -> None:
        if not price > 0:
            return
        i = self._head[row]
        self._head[row] = (i + 1) % self.fill_ts.shape[1]
        # an overwritten fill's markouts still pending are lost (bounded memory)
        self._pending_per_market[row] += self.pending.shape[2] - int(self.pending[row, i].sum())
        self.fill_ts[row, i] = ts_ns
        self.fill_price[row, i] = price
        self.fill_side[row, i] = BID if we_bought else ASK
        self.pending[row, i] = True
        self._next_due_ns = min(self._next_due_ns, ts_ns + self._first_horizon_ns)

    def record_trade(self, row: int, buy_aggressor: bool, size_lots: float, ts_ns: int) -> None:
        """A public print: decay the row's flow to ts_ns, then add it (in our quote sizes)."""
        dt_ns = ts_ns - self._flow_ns[row]
        if dt_ns > 0:
            keep = math.exp(-LN2 * dt_ns * 1e-9 / self.params.imbalance_half_life_s)
            self._buys[row] *= keep
            self._sells[row] *= keep
            self._flow_ns[row] = ts_ns
        size = size_lots / max(self._quote_sizes[row], 1e-12)
        if buy_aggressor:
            self._buys[row] += size
        else:
            self._sells[row] += size

    def set_quote_sizes(self, lots: FloatArray) -> None:
        """Our quote size per market, the unit of the flow (prints after this are counted in it)."""
        self._quote_sizes = np.asarray(lots, dtype=np.float64).tolist()

    # ---- vectorized update --------------------------------------------------------------------------

    def update(self, fair: FloatArray, now_ns: int) -> None:
        """Take every markout due at now_ns from `fair` (NaN: not now), decay, recompute toxicity."""
        p = self.params
        dt_s = max(now_ns - self._updated_ns, 0) * 1e-9 if self._updated_ns else 0.0
        self._updated_ns = max(self._updated_ns, now_ns)
        keep_markout = math.exp(-LN2 * dt_s / p.markout_half_life_s)
        self.markout_sum *= keep_markout
        self.markout_weight *= keep_markout
        self.burst *= math.exp(-LN2 * dt_s / p.pull_half_life_s)
        self._take_markouts(fair, now_ns)
        imbalance = self.imbalance(now_ns)
        over = np.abs(imbalance) >= p.burst_imbalance
        if over.any():  # rare: one-sided flow this strong
            self.burst[over & (imbalance > 0), ASK] = 1.0
            self.burst[over & (imbalance < 0), BID] = 1.0
        mean = self.markout_sum / (self.markout_weight + p.markout_prior_fills)
        tox = p.markout_gain * np.maximum(-mean[:, :, p.control_horizon], 0.0)
        flow = np.maximum(np.abs(imbalance) - p.imbalance_deadband, 0.0) / (1.0 - p.imbalance_deadband)
        flow *= p.imbalance_gain_bps
        tox[:, ASK] += np.where(imbalance > 0, flow, 0.0)
        tox[:, BID] += np.where(imbalance < 0, flow, 0.0)
        tox += p.pull_bps * self.burst
        np.minimum(tox, p.max_toxicity_bps, out=self.toxicity_bps)

    def _take_markouts(self, fair: FloatArray, now_ns: int) -> None:
        if now_ns < self._next_due_ns:
            return  # nothing due yet: the search below would take nothing
        self._search_markouts(fair, now_ns)
        due_ns = np.where(self.pending, self.fill_ts[:, :, None] + self.horizons_ns, NEVER_NS)
        self._next_due_ns = int(due_ns.min()) if due_ns.size else NEVER_NS

    def _search_markouts(self, fair: FloatArray, now_ns: int) -> None:
        rows = np.flatnonzero(self._pending_per_market > 0)
        rows = rows[np.isfinite(fair[rows]) & (fair[rows] > 0)]
        if not rows.size:
            return
        age_ns = now_ns - self.fill_ts[rows]
        due = self.pending[rows] & (age_ns[:, :, None] >= self.horizons_ns)
        r, i, h = np.nonzero(due)
        if not r.size:
            return
        row = rows[r]
        side = self.fill_side[row, i]
        price = self.fill_price[row, i]
        sign = np.where(side == BID, 1.0, -1.0)
        markout = sign * (fair[row] - price) / price / BPS
        self.pending[row, i, h] = False
        np.subtract.at(self._pending_per_market, row, 1)
        np.add.at(self.markout_sum, (row, side, h), markout)
        np.add.at(self.markout_weight, (row, side, h), 1.0)
        self.last_markout_bps[row, side, h] = markout
        picked = (h == 0) & (markout <= -self.params.burst_markout_bps)
        self.burst[row[picked], side[picked]] = 1.0

    # ---- read-only views ----------------------------------------------------------------------------

    @property
    def buy_volume(self) -> FloatArray:
        """Decayed buyer-initiated volume per market as of its last print, in our quote sizes."""
        return np.array(self._buys)

    @property
    def sell_volume(self) -> FloatArray:
        return np.array(self._sells)

    @property
    def flow_ns(self) -> npt.NDArray[np.int64]:
        """Time of each market's last print (the flow's decay is applied up to it)."""
        return np.array(self._flow_ns, dtype=np.int64)

    def imbalance(self, now_ns: int) -> FloatArray:
        """Signed-volume imbalance per market in (-1, 1), decayed to now_ns."""
        dt_s = np.maximum(now_ns - self.flow_ns, 0) * 1e-9
        keep = np.exp(-LN2 * dt_s / self.params.imbalance_half_life_s)
        buys, sells = self.buy_volume * keep, self.sell_volume * keep
        return (buys - sells) / (buys + sells + self.params.imbalance_prior_quotes)

    def mean_markout_bps(self) -> FloatArray:
        """(n_markets, side, horizon): decayed mean markout, shrunk toward 0 by the prior."""
        return self.markout_sum / (self.markout_weight + self.params.markout_prior_fills)
