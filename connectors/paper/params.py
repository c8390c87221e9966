"""Configuration of a paper venue: which exchange's public data, and how our orders are simulated.

The public-data fields mean what they mean for a ccxt venue (they build one, without credentials);
the simulation fields are the replay venue's (queue model, latency, fees, balances), since the
paper venue matches our orders with the replay core.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from bot.core.config_base import StrictModel
from connectors.ccxt.params import CcxtVenueParams
from connectors.mock.accounts import check_initial_balances
from connectors.replay.params import ReplayVenueParams

# The fields passed through to the ccxt venue that streams the public data.
_FEED_FIELDS = (
    "exchange", "sandbox", "urls", "options", "stale_book_s", "use_websockets", "poll_interval_s",
    "book_depth", "max_retries", "backoff_base_s", "backoff_max_s", "timeout_ms", "maker_fee_bps",
    "taker_fee_bps", "rate_limit_ms",
)  # fmt: skip


class PaperVenueParams(StrictModel):
    kind: Literal["paper"] = "paper"
    exchange: str = Field(description="ccxt exchange id whose public book and trades are used, e.g. binance")
    sandbox: bool = Field(False, description="the exchange's public testnet instead")
    urls: str | None = Field(None, description="base URL replacing the exchange's (a local facade, a proxy)")
    options: dict[str, Any] = Field(default_factory=dict, description="passed to ccxt as `options`")
    stale_book_s: float = Field(2.0, gt=0, description="as for a ccxt venue: a silent book is checked")
    use_websockets: bool = True
    poll_interval_s: float = Field(2.0, gt=0)
    book_depth: int = Field(
        50, ge=1, le=1000, description="levels per side seen; an order deeper than this loses its queue place"
    )
    max_retries: int = Field(4, ge=0, le=20)
    backoff_base_s: float = Field(0.25, gt=0)
    backoff_max_s: float = Field(10.0, gt=0)
    timeout_ms: int = Field(10_000, gt=0)
    rate_limit_ms: float | None = Field(None, gt=0)
    maker_fee_bps: Decimal | None = Field(
        None, ge=-100, le=1000, description="None: the exchange's default tier as ccxt reports it"
    )
    taker_fee_bps: Decimal | None = Field(None, ge=0, le=1000)
    queue_model: Literal["risk_averse", "probabilistic"] = "risk_averse"
    queue_power: float = Field(default=2.0, gt=0, description="probabilistic model: f(x) = x**power")
    fill_on_crossing_book: bool = Field(
        default=False,
        description="false: our resting orders fill only when the live tape trades at or through them "
        "(the exchange never saw them, so a level crossing them traded with nobody); true: as a replay",
    )
    order_latency_ms: float = Field(default=20.0, ge=0, description="one way, to the simulated matching")
    order_latency_jitter_ms: float = Field(default=0.0, ge=0, description="lognormal std; 0 = constant")
    seed: int = Field(default=0, ge=0, description="seeds the latency draws")
    initial_balances: dict[str, Decimal] = Field(
        default_factory=dict, description="the paper account's opening balances (its first start only)"
    )
    max_orders: int = Field(default=256, ge=1, le=4096, description="our orders resting at once, per market")
    record_dir: str | None = Field(
        None,
        description="write the public data the session saw here, one L2 event file per market "
        "(`mmbot backtest --data`), stamped as the simulation saw it",
    )
    record_rotate_rows: int = Field(2_000_000, ge=1000, description="a new file after this many rows")

    @field_validator("initial_balances")
    @classmethod
    def _balances_non_negative(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        return check_initial_balances(value)

    @model_validator(mode="after")
    def _feed_is_valid(self) -> PaperVenueParams:
        self.feed_params()  # the ccxt venue's own checks (exchange id, urls), naming the field
        return self

    def feed_params(self) -> CcxtVenueParams:
        """The ccxt venue that streams the public data: no credentials, so no private stream."""
        return CcxtVenueParams(**{name: getattr(self, name) for name in _FEED_FIELDS})

    def matching_params(
        self, maker_fee_bps: Decimal, taker_fee_bps: Decimal, min_notional: Decimal
    ) -> ReplayVenueParams:
        """The replay core's settings for one market (fees resolved against the exchange's)."""
        return ReplayVenueParams(
            data="<live>", queue_model=self.queue_model, queue_power=self.queue_power,
            order_latency_ms=self.order_latency_ms, order_latency_jitter_ms=self.order_latency_jitter_ms,
            seed=self.seed, maker_fee_bps=maker_fee_bps, taker_fee_bps=taker_fee_bps,
            min_notional=min_notional, initial_balances=self.initial_balances, book_depth=self.book_depth,
            max_orders=self.max_orders, fill_on_crossing_book=self.fill_on_crossing_book,
        )  # fmt: skip
