"""Configuration of a replay venue: the event file, the queue and latency models, fees, balances."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import Field, field_validator, model_validator

from bot.core.config_base import StrictModel
from connectors.mock.accounts import check_initial_balances


class ReplayVenueParams(StrictModel):
    kind: Literal["replay"] = "replay"
    data: str = Field(
        description="L2 event file (.npz, connectors/replay/events.py); `mmbot backtest --data` overrides"
    )
    queue_model: Literal["risk_averse", "probabilistic"] = "risk_averse"
    queue_power: float = Field(default=2.0, gt=0, description="probabilistic model: f(x) = x**power")
    fill_on_crossing_book: bool = Field(
        default=True,
        description="a book level posted at or through a resting order of ours fills it (the order would "
        "have met it first); false: only prints fill resting orders (as paper trading on live data does)",
    )
    order_latency_ms: float = Field(default=20.0, ge=0, description="one way, to the matching engine")
    order_latency_jitter_ms: float = Field(
        default=0.0, ge=0, description="standard deviation of a lognormal latency; 0 = constant"
    )
    seed: int = Field(default=0, ge=0, description="seeds the latency draws")
    session_timing: str | None = Field(
        default=None,
        description="a paper session's timing file (`*.timing.json` in its record_dir): each request "
        "the session made reaches the matching and answers when it did in the session; the latency "
        "fields apply to the others (connectors/replay/recorded_latency.py)",
    )
    maker_fee_bps: Decimal = Field(default=Decimal(0), ge=-100, le=1000, description="negative: rebate")
    taker_fee_bps: Decimal = Field(default=Decimal(0), ge=0, le=1000)
    min_notional: Decimal = Field(default=Decimal(0), ge=0)
    initial_balances: dict[str, Decimal] = Field(default_factory=dict)
    book_depth: int = Field(default=20, ge=1, le=5000, description="levels per side in each BookSnapshot")
    feed_batch_ms: float = Field(
        default=0.0,
        ge=0,
        description="0: each row reaches the bot at its local time; > 0: rows are delivered in batches "
        "at most this often (faster replays, market data up to this late)",
    )
    book_feed: Literal["every_update", "top_moves"] = Field(
        default="every_update",
        description="every_update: every row reaches the bot at its local time, the book at each "
        "publication (exact); top_moves: the bot sees the book when its best bid or ask moved by more "
        "than top_move_ticks, else at most max_book_delay_ms after a change, the prints with it, and "
        "its fills on time (connectors/replay/conflated.py): far faster, the strategy is woken less often",
    )
    top_move_ticks: int = Field(
        default=0, ge=0, description="top_moves: a best price move larger than this shows at once"
    )
    max_book_delay_ms: float = Field(
        default=250.0, gt=0, description="top_moves: the longest a change (or a print) waits to be shown"
    )
    max_orders: int = Field(default=256, ge=1, le=4096, description="our orders resting at once")

    @model_validator(mode="after")
    def _one_way_to_batch(self) -> ReplayVenueParams:
        if self.book_feed == "top_moves" and self.feed_batch_ms > 0:
            raise ValueError('feed_batch_ms: batches apply to book_feed = "every_update" only')
        return self

    @field_validator("initial_balances")
    @classmethod
    def _balances_non_negative(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        return check_initial_balances(value)
