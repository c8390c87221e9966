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
    # Why a cap: with a 1.5 bps tolerance on a 1 bps half spread a kept bid could sit above the
    # fair price. 0.5 keeps every quote at least half its intended distance from the fair.
    refresh_tolerance_half_spread_fraction: float = Field(
        0.5, ge=0, le=1, description="the tolerance never exceeds this fraction of the quoted half spread"
    )
    # Why: the skew of a quote model moves with the inventory, by less than any noise tolerance
    # per fill (0.07-0.13 bps against 1.5 bps with the example gamma), so it never acted.
    requote_on_inventory_change: bool = Field(
        True, description="after a fill changed the position, replace every order whose target moved a tick"
    )
    size_tolerance: float = Field(
        0.5, ge=0, le=1, description="fraction of target size a live order may differ"
    )
    max_order_age_s: float = Field(60.0, gt=0)
