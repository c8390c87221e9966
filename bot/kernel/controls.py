"""How live orders follow a quoting strategy's targets: shared by every quoting strategy kind."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class QuotingControls(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    markets: list[str] = Field(min_length=1, description='"venue:symbol" keys from [[markets]]')
    min_requote_interval_ms: float = Field(200.0, ge=0)
    refresh_tolerance_ticks: int = Field(1, ge=0)
    refresh_tolerance_bps: float = Field(
        0.0, ge=0, description="also keep orders within this distance; the larger of the two applies"
    )
    size_tolerance: float = Field(
        0.5, ge=0, le=1, description="fraction of target size a live order may differ"
    )
    max_order_age_s: float = Field(60.0, gt=0)
