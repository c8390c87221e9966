"""Config sections of the operator services: ops endpoint, scheduled jobs, notifications."""

from __future__ import annotations

from pydantic import Field, field_validator

from bot.core.config_base import StrictModel, check_env_var_name


class OpsConfig(StrictModel):
    enabled: bool = True
    # A required endpoint (the default) that cannot bind its port stops the start (exit code
    # OPS_PORT_TAKEN): a bot nobody can pause or health-check should not quote.
    optional: bool = Field(False, description="run without the endpoint when its port is taken")
    host: str = "127.0.0.1"
    port: int = Field(8780, ge=0, le=65535)
    token_env: str | None = "MMBOT_OPS_TOKEN"
    stale_book_s: float = Field(30.0, gt=0, description="/health fails when a book is older")

    _check_token_env = field_validator("token_env")(check_env_var_name)


class JobsConfig(StrictModel):
    """Periodic jobs (bot/ops/scheduler.py): apscheduler on the wall clock, asyncio on simulated time."""

    reconcile_interval_s: float = Field(300.0, gt=0, description="missed fills, orphan orders")
    housekeeping_interval_s: float = Field(3600.0, gt=0)
    order_event_retention_days: float = Field(30.0, gt=0, description="audit rows of closed orders")
    mid_series_retention_days: float = Field(7.0, gt=0, description="stored fair series (attribution)")


class NotifyConfig(StrictModel):
    """Operator notifications (bot/ops/notify.py): a webhook and/or a Telegram bot, from env vars.

    A sink whose variables are unset is off; with none set the bot sends nothing.
    """

    webhook_url_env: str | None = "MMBOT_NOTIFY_WEBHOOK_URL"
    telegram_token_env: str | None = "MMBOT_TELEGRAM_TOKEN"
    telegram_chat_id_env: str | None = "MMBOT_TELEGRAM_CHAT_ID"
    telegram_api_url: str = Field("https://api.telegram.org", pattern=r"^https?://[^\s]+$")
    fills_summary_interval_s: float = Field(3600.0, ge=0, description="0 = no fills summaries")
    venue_disconnect_alert_s: float = Field(60.0, ge=0, description="alert when a venue stays down")
    rate_per_minute: float = Field(20.0, gt=0, description="token bucket refill")
    burst: int = Field(5, ge=1, description="token bucket size")
    max_queue: int = Field(100, ge=1, description="distinct messages waiting; more are dropped")
    send_timeout_s: float = Field(5.0, gt=0)

    _check_env = field_validator("webhook_url_env", "telegram_token_env", "telegram_chat_id_env")(
        check_env_var_name
    )
