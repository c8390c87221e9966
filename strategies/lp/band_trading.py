"""How much a band hedger really trades on the pool's own price path, against what the carry's
diffusion model says it trades on the same path (`BandTradingMeter`).

The hedge model (`carry.HedgeCosting`) assumes the pool's log price is a diffusion: at a band of
δ in log price (δ = 2B√P/L for a hedge band B of token0 and a range of liquidity L) it trades
E|n|/E[n²] of log distance per unit of quadratic variation (Wald's identity). A pool is not one at
every scale: inside its fee band it waits for the arbitrageur and then follows the fair price in
pushes (0.3 %), or noise swaps jitter it (0.05 %), so at a few bp its traded distance differs
from the diffusion's for the same variance. The meter runs that band rule on the sampled pool
price at a ladder of bands and divides the log distance it traded by what the model says a
diffusion at the σ̂ₚ the carry reads, sampled alike, would have traded: a ratio per band, 1 for
a diffusion at any sampling, shrunk toward 1 by a prior worth `PRIOR_TRADES` trades. The carry
multiplies the hedge model by it at the band a width implies, so the model keeps its structure
(σ̂ₚ, band, overshoot) and the pool's own path corrects its shape. Pure bookkeeping: fed one price per round.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from amm.attribution import SECONDS_PER_YEAR
from strategies.lp.carry import band_trade_moments
from strategies.lp.volatility import ewma_decay

# Bands in log price: a ±0.25 ETH band on 30,000 token1 at 3,000 is 0.05·w, so 2 bp (±0.4 %)
# to 2.6 % (±50 %), the span of the widths the optimiser searches.
BAND_LADDER_LOG = tuple(2e-4 * 2.0**k for k in range(8))
PRIOR_TRADES = 20.0  # the model (ratio 1) weighs as much as this many trades at each band


def diffusion_traded_per_variance(band_log: float, step_log: float) -> float:
    """Log distance a reset-to-centre band rule trades per unit of a diffusion's variance, checked
    every step of RMS `step_log`: E[δ + O]/E[(δ + O)²], O the overshoot (as `HedgeCosting`)."""
    traded, traded_sq = band_trade_moments(band_log, step_log)
    return traded / traded_sq


@dataclass(slots=True)
class BandTradingMeter:
    """EWMA (time-aware, `half_life_s`) of the sampled pool path's variance, squared steps and, per
    band of `bands_log`, the log distance and the number of trades a band rule makes on it."""

    half_life_s: float
    bands_log: tuple[float, ...] = BAND_LADDER_LOG
    variance: float = 0.0  # Σ r², EWMA-weighted
    steps: float = 0.0  # the number of returns, weighted alike
    elapsed_s: float = 0.0  # the time they span, weighted alike
    traded: list[float] = field(default_factory=list)
    trades: list[float] = field(default_factory=list)
    anchors: list[float] = field(default_factory=list)
    last_log_price: float = math.nan
    last_ts_ns: int = 0

    def update(self, price: float, ts_ns: int) -> None:
        if not (math.isfinite(price) and price > 0.0):
            return
        x = math.log(price)
        if math.isnan(self.last_log_price):  # first price, or after our own swap moved the pool
            n = len(self.bands_log)
            if not self.traded:
                self.traded, self.trades = [0.0] * n, [0.0] * n
            self.anchors = [x] * n
            self.last_log_price, self.last_ts_ns = x, ts_ns
            return
        dt_s = (ts_ns - self.last_ts_ns) / 1e9
        if dt_s <= 0.0:
            return
        decay = ewma_decay(dt_s, self.half_life_s)
        self.variance = self.variance * decay + (x - self.last_log_price) ** 2
        self.steps = self.steps * decay + 1.0
        self.elapsed_s = self.elapsed_s * decay + dt_s
        for k, band in enumerate(self.bands_log):
            self.traded[k] *= decay
            self.trades[k] *= decay
            gap = abs(x - self.anchors[k])
            if gap > band:
                self.traded[k] += gap
                self.trades[k] += 1.0
                self.anchors[k] = x
        self.last_log_price, self.last_ts_ns = x, ts_ns

    def forget_price(self) -> None:
        """The next price starts afresh (our own swap moved the pool: the hedger re-trades that
        as the swap's re-hedge, which the carry counts apart)."""
        self.last_log_price = math.nan

    def ratios(self, model_sigma_annual: float = math.nan) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """(bands, measured ÷ modelled traded distance) , each shrunk toward 1 by
        `PRIOR_TRADES` (empty before any return). The model's diffusion has the path's own
        variance, or `model_sigma_annual` when given: the σ the carry's hedge model reads, so the
        ratio corrects that model as it is used."""
        if not self.variance > 0.0 or not self.steps > 0.0:
            return (), ()
        variance = self.variance
        if math.isfinite(model_sigma_annual):
            variance = model_sigma_annual**2 * self.elapsed_s / SECONDS_PER_YEAR
            if not variance > 0.0:  # a model of a still pool: nothing to correct
                return (), ()
        step = math.sqrt(variance / self.steps)
        bands, ratios = [], []
        for k, band in enumerate(self.bands_log):
            modelled = variance * diffusion_traded_per_variance(band, step)
            # shrunk toward the model (1) by the trades seen: a ratio from a few trades is noise
            sure = self.trades[k] / (self.trades[k] + PRIOR_TRADES)
            bands.append(band)
            ratios.append(sure * self.traded[k] / modelled + (1.0 - sure))
        return tuple(bands), tuple(ratios)
