"""The `[risk]` config section: pre-trade limits and the kill switch's thresholds."""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field

from bot.core.config_base import StrictModel


class RiskConfig(StrictModel):
    max_order_notional: Decimal = Field(Decimal("10000"), gt=0)
    max_total_position_notional: Decimal = Field(Decimal("100000"), gt=0)
    max_open_orders: int = Field(200, gt=0)
    # Kill switch (bot/kernel/kill_switch.py): each limit pauses quoting when crossed; unset = off.
    max_drawdown_quote: Decimal | None = Field(None, gt=0, description="trailing, from peak PnL")
    daily_loss_limit_quote: Decimal | None = Field(None, gt=0, description="PnL lost since 00:00 UTC")
    max_inventory_notional: Decimal | None = Field(None, gt=0, description="sum of |position| · mid")
    max_orders_per_minute: int | None = Field(None, gt=0)
    max_price_jump_pct: float | None = Field(None, gt=0, description="mid move between two checks")
    check_interval_s: float = Field(1.0, gt=0)
    pause_cooldown_s: float | None = Field(None, gt=0, description="auto-resume after; unset = by command")
