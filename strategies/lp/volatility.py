"""The LP manager's σ̂: an EWMA of squared log returns, time-aware (rounds come at irregular times)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from amm.attribution import SECONDS_PER_YEAR


def ewma_decay(dt_s: float, half_life_s: float) -> float:
    """What a time-aware EWMA of this half-life keeps of its weight over `dt_s` (none elapsed
    for a negative one)."""
    return math.exp(-max(dt_s, 0.0) * math.log(2) / half_life_s)


def ewma_weight(span_s: float, half_life_s: float) -> float:
    """The weight `span_s` of samples carries in a time-aware EWMA of this half-life: 1 − its decay
    over the span (expm1: exact for spans far shorter than the half-life)."""
    return -math.expm1(-span_s * math.log(2) / half_life_s)


@dataclass(frozen=True, slots=True)
class EwmaStep:
    """One more sample into a bias-corrected time-aware EWMA: what its old samples keep of their
    weight, the new one's weight, and the new totals Σw and Σw². Each mean it keeps moves to
    (mean·kept + fresh·sample)/weight."""

    kept: float
    fresh: float
    weight: float
    weight_sq: float


def ewma_step(weight: float, weight_sq: float, dt_s: float, half_life_s: float) -> EwmaStep:
    decay = ewma_decay(dt_s, half_life_s)
    kept, fresh = weight * decay, 1.0 - decay
    return EwmaStep(kept, fresh, kept + fresh, weight_sq * decay**2 + fresh**2)


def effective_count(weight: float, weight_sq: float) -> float:
    """n = (Σw)²/Σw²: how many equally weighted samples a weighted estimate is worth (0: none)."""
    return weight * weight / weight_sq if weight_sq > 0.0 else 0.0


@dataclass(slots=True)
class EwmaVolatility:
    """Exponentially weighted variance of log returns per second, time-aware (irregular samples)."""

    half_life_s: float
    var_per_s: float = math.nan  # start from a prior with `from_sigma`
    samples: int = 0
    last_price: float = math.nan
    last_ts_ns: int = 0
    weight: float = 1.0  # the EWMA's total weight: the prior's (decaying) plus the samples'
    weight_sq: float = 1.0  # the same sum of the weights' squares (the prior counts as one sample)
    min_interval_s: float = 0.0  # returns over shorter times are not taken (the price waits)

    @classmethod
    def from_sigma(
        cls, half_life_s: float, sigma_annual: float, prior_s: float = math.inf, min_interval_s: float = 0.0
    ) -> EwmaVolatility:
        """Starts at a prior σ worth `prior_s` seconds of returns (inf: the whole EWMA, which then
        fades at its half-life). A bias-corrected EWMA: the prior weighs what `prior_s` seconds of
        samples would, so returns replace it as fast as they outweigh it, not a half-life later."""
        weight = ewma_weight(prior_s, half_life_s) if math.isfinite(prior_s) else 1.0
        var_per_s = sigma_annual**2 / SECONDS_PER_YEAR
        return cls(half_life_s, var_per_s, weight=weight, weight_sq=weight**2, min_interval_s=min_interval_s)

    def forget_price(self) -> None:
        """The next price starts a new return (the last one was moved by us, not the market)."""
        self.last_price = math.nan

    def update(self, price: float, ts_ns: int) -> None:
        if not (math.isfinite(price) and price > 0):
            return
        if math.isnan(self.last_price):
            self.last_price, self.last_ts_ns = price, ts_ns
            return
        dt_s = (ts_ns - self.last_ts_ns) / 1e9
        if dt_s <= 0 or dt_s < self.min_interval_s:
            return
        sample = math.log(price / self.last_price) ** 2 / dt_s
        step = ewma_step(self.weight, self.weight_sq, dt_s, self.half_life_s)
        self.weight, self.weight_sq = step.weight, step.weight_sq
        if math.isnan(self.var_per_s):
            self.var_per_s = sample
        else:
            self.var_per_s = (self.var_per_s * step.kept + step.fresh * sample) / self.weight
        self.samples += 1
        self.last_price, self.last_ts_ns = price, ts_ns

    def effective_samples(self) -> float:
        """How many equally weighted returns the estimate is worth."""
        return effective_count(self.weight, self.weight_sq)

    def restart(self, var_per_s: float, samples: float, span_s: float) -> None:
        """Start again from `var_per_s`, worth `samples` returns over `span_s` (what a shorter
        EWMA saw): its weight is what `span_s` of returns weighs here, so this EWMA's own samples
        replace it as fast as they outweigh it. The last price stays: the next return continues."""
        self.var_per_s = var_per_s
        self.weight = ewma_weight(span_s, self.half_life_s)
        self.weight_sq = self.weight * self.weight / max(samples, 1.0)

    def remove_noise(self, noise_var_per_s: float, max_share: float) -> None:
        """Take out a bias `noise_var_per_s` its squared returns carried (bid-ask bounce in
        closes, `strategies.lp.bounce`), at most `max_share` of the estimate. Noisier returns are
        worth fewer samples: the error of a variance from n squared returns is √(2/n) of E[r²],
        noise included, so against the clean variance it grows by E[r²] ÷ the clean one, and n
        falls by that squared. The prior's weight is taken as long decayed (hours of closes)."""
        if not (noise_var_per_s > 0.0 and self.var_per_s > 0.0):
            return
        clean = self.var_per_s - min(noise_var_per_s, max_share * self.var_per_s)
        self.weight_sq *= (self.var_per_s / clean) ** 2
        self.var_per_s = clean

    def rel_error(self) -> float:
        """σ̂'s standard error over σ̂: √(1/(2n)) for n = (Σw)²/Σw² effective samples of Gaussian
        returns (1 before any weight)."""
        if not self.weight > 0.0:
            return 1.0
        return math.sqrt(self.weight_sq / (2.0 * self.weight * self.weight))

    def sigma_annual(self, fallback: float) -> float:
        """σ̂ per √year, or `fallback` until a first return was seen."""
        if math.isnan(self.var_per_s):
            return fallback
        return math.sqrt(self.var_per_s * SECONDS_PER_YEAR)
