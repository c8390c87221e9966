"""Struct-of-arrays inputs and parameters of the quote core, one slot per market.

Every field is a numpy array of shape (n_markets,). Callers allocate these once (`empty`) and update
slots in place as events arrive; the core never copies them. Floats are float64 in the units named
by each field; `model`, `level_count` and `session_end_ns` are integers.

These are the core's data types, below the quote models that read and write them: they do not know
which models are registered (`strategies.quoting.models.validate_quote_params` adds those rules).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
# (field, True per market where it holds, what it must be): one validation rule of QuoteParams
ParamRule = tuple[str, BoolArray, str]

# Whole cache lines: numpy's own allocations are only 16-byte aligned, and its SIMD loops run about
# twice as fast on arrays that start on a cache line.
CACHE_LINE_BYTES = 64


def aligned_empty(shape: int | tuple[int, ...], dtype: npt.DTypeLike = np.float64) -> npt.NDArray[Any]:
    """np.empty whose data starts on a cache line (C-contiguous)."""
    dims = (shape,) if isinstance(shape, int) else shape
    dt = np.dtype(dtype)
    nbytes = math.prod(dims) * dt.itemsize
    raw = np.empty(nbytes + CACHE_LINE_BYTES, dtype=np.uint8)
    start = -raw.ctypes.data % CACHE_LINE_BYTES
    return raw[start : start + nbytes].view(dt).reshape(dims)


def aligned_full(
    shape: int | tuple[int, ...], value: float, dtype: npt.DTypeLike = np.float64
) -> npt.NDArray[Any]:
    out = aligned_empty(shape, dtype)
    out.fill(value)
    return out


@dataclass(slots=True)
class QuoteInputs:
    """Market state the quote core reads, refreshed by the engine on events.

    fair_price       price units (quote per base); NaN or <= 0: the market is not quoted
    best_bid/ask     price units of the venue's best levels; NaN: that side of the book is missing
    volatility       sigma, price units per sqrt(second) (from `VolatilityEstimator`)
    intensity_a      A, taker sweeps per second at zero depth (from `TapeIntensity`)
    intensity_kappa  kappa, per price unit: lambda(delta) = A * exp(-kappa * delta)
    inventory_lots   signed position in lots (long > 0), float so fractional lots are allowed
    toxicity_bid_bps extra half spread of the bid side from flow toxicity (0 when unknown)
    toxicity_ask_bps extra half spread of the ask side (`strategies.quoting.toxicity`)
    """

    fair_price: FloatArray
    best_bid: FloatArray
    best_ask: FloatArray
    volatility: FloatArray
    intensity_a: FloatArray
    intensity_kappa: FloatArray
    inventory_lots: FloatArray
    toxicity_bid_bps: FloatArray
    toxicity_ask_bps: FloatArray

    def __post_init__(self) -> None:
        _check_shapes(self, "QuoteInputs")

    @property
    def n_markets(self) -> int:
        return int(self.fair_price.shape[0])

    @classmethod
    def empty(cls, n_markets: int) -> QuoteInputs:
        """Nothing quoted until fair prices arrive: prices NaN, everything else 0."""
        n = n_markets
        return cls(
            fair_price=aligned_full(n, math.nan),
            best_bid=aligned_full(n, math.nan),
            best_ask=aligned_full(n, math.nan),
            volatility=aligned_full(n, 0.0),
            intensity_a=aligned_full(n, 0.0),
            intensity_kappa=aligned_full(n, 0.0),
            inventory_lots=aligned_full(n, 0.0),
            toxicity_bid_bps=aligned_full(n, 0.0),
            toxicity_ask_bps=aligned_full(n, 0.0),
        )


@dataclass(slots=True)
class QuoteParams:
    """Per-market strategy parameters (built from config by `param_slots.build_quote_params`).

    model                       QuoteModel code per market
    tick_size, lot_size         price units per tick, base units per lot
    maker_fee_bps               maker fee of the market's venue (negative = rebate), widens each side
    min_spread_bps/max_spread_bps  bounds on the total (bid-to-ask) spread around the reservation price
    half_spread_bps             fixed-spread model: half spread around the reservation price
    skew_bps_per_unit_inventory_fraction  fixed-spread model: reservation shift per unit q/q_max
    gamma                       risk aversion per unit of quote currency (AS, GLFT; 0: unused)
    gamma_notional              risk aversion per unit of quoted notional, dimensionless (AS, GLFT;
                                0: unused); the models take x = gamma * order size + gamma_notional / s
    max_skew_bps                AS, GLFT: clamp on |r - s| in bps of fair (inf: none)
    horizon_s                   AS horizon tau in seconds: rolling (session_end_ns == 0), or the
                                bound on the session's tau
    session_end_ns              AS session end T (epoch ns); > 0 selects tau = min(T - t, horizon_s)
    level_spacing_bps           distance between consecutive levels, bps of fair price
    level_size_lots             size of each level before shaping; AS and GLFT's order size Delta
    level_count                 levels quoted per side (<= n_levels)
    max_inventory_lots          inventory limit q_max in lots (both directions)
    size_shape_eta              eta: the side that adds to inventory is sized down by exp(-eta q/q_max)
    price_band_bps              max distance of any quote from fair (inf: no band)
    n_levels                    width of the target arrays (max level_count)
    """

    model: npt.NDArray[np.int8]
    tick_size: FloatArray
    lot_size: FloatArray
    maker_fee_bps: FloatArray
    min_spread_bps: FloatArray
    max_spread_bps: FloatArray
    half_spread_bps: FloatArray
    skew_bps_per_unit_inventory_fraction: FloatArray
    gamma: FloatArray
    gamma_notional: FloatArray
    max_skew_bps: FloatArray
    horizon_s: FloatArray
    session_end_ns: IntArray
    level_spacing_bps: FloatArray
    level_size_lots: FloatArray
    level_count: IntArray
    max_inventory_lots: FloatArray
    size_shape_eta: FloatArray
    price_band_bps: FloatArray
    n_levels: int

    def __post_init__(self) -> None:
        _check_shapes(self, "QuoteParams")
        self.validate()

    @property
    def n_markets(self) -> int:
        return int(self.model.shape[0])

    def validate(self) -> None:
        """Raise ValueError naming the field and first slot at fault; call again after in-place edits.

        The rules of the columns themselves; those that depend on the registered models (a known
        `model` code, `gamma` where the model uses it) are `validate_quote_params`'.
        """
        if self.n_levels < 1:
            raise ValueError(f"QuoteParams.n_levels must be >= 1, got {self.n_levels}")
        rules: list[ParamRule] = [
            ("tick_size", finite_positive(self.tick_size), "finite and > 0"),
            ("lot_size", finite_positive(self.lot_size), "finite and > 0"),
            ("maker_fee_bps", np.isfinite(self.maker_fee_bps), "finite"),
            ("min_spread_bps", _finite_nonneg(self.min_spread_bps), "finite and >= 0"),
            (
                "max_spread_bps",
                np.isfinite(self.max_spread_bps) & (self.max_spread_bps >= self.min_spread_bps),
                "finite and >= min_spread_bps",
            ),
            ("half_spread_bps", _finite_nonneg(self.half_spread_bps), "finite and >= 0"),
            (
                "skew_bps_per_unit_inventory_fraction",
                np.isfinite(self.skew_bps_per_unit_inventory_fraction),
                "finite",
            ),
            ("gamma_notional", _finite_nonneg(self.gamma_notional), "finite and >= 0"),
            ("max_skew_bps", self.max_skew_bps >= 0, ">= 0 (inf for no clamp)"),
            ("horizon_s", _finite_nonneg(self.horizon_s), "finite and >= 0"),
            ("session_end_ns", self.session_end_ns >= 0, ">= 0 (0 = rolling horizon)"),
            ("level_spacing_bps", _finite_nonneg(self.level_spacing_bps), "finite and >= 0"),
            ("level_size_lots", _finite_nonneg(self.level_size_lots), "finite and >= 0"),
            (
                "level_count",
                (self.level_count >= 0) & (self.level_count <= self.n_levels),
                f"between 0 and n_levels={self.n_levels}",
            ),
            ("max_inventory_lots", finite_positive(self.max_inventory_lots), "finite and > 0"),
            ("size_shape_eta", _finite_nonneg(self.size_shape_eta), "finite and >= 0"),
            ("price_band_bps", self.price_band_bps > 0, "> 0 (inf for no band)"),
        ]
        self.check(rules)

    def check(self, rules: Iterable[ParamRule]) -> None:
        """Raise ValueError naming the field and first slot of the first rule that does not hold."""
        for name, ok, rule in rules:
            bad = np.flatnonzero(~ok)
            if bad.size:
                slot = int(bad[0])
                value = getattr(self, name)[slot]
                raise ValueError(f"QuoteParams.{name}[{slot}] = {value!r}: must be {rule}")

    @classmethod
    def uniform(cls, n_markets: int, n_levels: int, **values: float | int) -> QuoteParams:
        """Every market with the same parameters (`values` override the neutral defaults).

        The default model code 0 is the registry's first row, `QuoteModel.FIXED_SPREAD`.
        """
        defaults: dict[str, float | int] = {
            "model": 0,
            "tick_size": 0.01,
            "lot_size": 0.001,
            "maker_fee_bps": 0.0,
            "min_spread_bps": 0.0,
            "max_spread_bps": 10_000.0,
            "half_spread_bps": 10.0,
            "skew_bps_per_unit_inventory_fraction": 0.0,
            "gamma": 1.0,
            "gamma_notional": 0.0,
            "max_skew_bps": float("inf"),
            "horizon_s": 60.0,
            "session_end_ns": 0,
            "level_spacing_bps": 5.0,
            "level_size_lots": 1.0,
            "level_count": n_levels,
            "max_inventory_lots": 100.0,
            "size_shape_eta": 0.0,
            "price_band_bps": float("inf"),
        }
        unknown = set(values) - set(defaults)
        if unknown:
            raise ValueError(f"QuoteParams.uniform: unknown field(s) {sorted(unknown)}")
        defaults.update(values)
        int_fields = {"session_end_ns", "level_count"}
        arrays: dict[str, npt.NDArray[np.generic]] = {}
        for name, value in defaults.items():
            dtype = np.int8 if name == "model" else np.int64 if name in int_fields else np.float64
            arrays[name] = aligned_full(n_markets, value, dtype=dtype)
        return cls(**arrays, n_levels=n_levels)  # type: ignore[arg-type]


def finite_positive(a: FloatArray) -> BoolArray:
    return np.isfinite(a) & (a > 0)


def _finite_nonneg(a: FloatArray) -> BoolArray:
    return np.isfinite(a) & (a >= 0)


_DTYPES = {"model": np.int8, "session_end_ns": np.int64, "level_count": np.int64}


def _check_shapes(obj: QuoteInputs | QuoteParams, owner: str) -> None:
    """Same 1-D length and dtype for every array field: the core relies on both."""
    n: int | None = None
    for f in fields(obj):
        if f.name == "n_levels":
            continue
        value = getattr(obj, f.name)
        expected = _DTYPES.get(f.name, np.float64)
        if not isinstance(value, np.ndarray) or value.ndim != 1:
            raise ValueError(f"{owner}.{f.name} must be a 1-D numpy array")
        if value.dtype != expected:
            raise ValueError(f"{owner}.{f.name} has dtype {value.dtype}, expected {np.dtype(expected)}")
        if n is None:
            n = value.shape[0]
        elif value.shape[0] != n:
            raise ValueError(f"{owner}.{f.name} has {value.shape[0]} markets, expected {n}")
