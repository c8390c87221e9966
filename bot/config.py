"""The TOML config: parsed with tomllib, validated with pydantic v2, unknown keys rejected.

Errors come back as one line per problem, `<dotted.field.path>: <what is wrong>`, so an operator
editing the file on a VPS sees exactly which key to fix. Credentials are never values in the file:
a config names the environment variable that holds them (`api_key_env = "BINANCE_KEY"`).
"""

from __future__ import annotations

import os
import re
import tomllib
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bot.domain import validate_instance_id
from connectors.mock.params import MockVenueParams
from strategies.controls import QuotingControls
from strategies.quote_params import AvellanedaParams, FixedSpreadParams, GlftParams

SECRET_KEYS = frozenset(
    {"api_key", "apikey", "secret", "api_secret", "private_key", "password", "passphrase", "token"}
)
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_VENUE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


class ConfigError(ValueError):
    """Invalid config; `problems` holds one `field.path: message` line per problem."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: invalid config\n" + "\n".join(f"  {p}" for p in problems))


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def check_env_var_name(value: str | None) -> str | None:
    if value is not None and not _ENV_NAME.match(value):
        raise ValueError("must be the NAME of an environment variable (letters, digits, underscore)")
    return value


class OpsConfig(StrictModel):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(8780, ge=0, le=65535)
    token_env: str | None = "MMBOT_OPS_TOKEN"

    _check_token_env = field_validator("token_env")(check_env_var_name)


class BotConfig(StrictModel):
    instance_id: str = "mm1"
    database_url: str = "sqlite:///mmbot.sqlite"
    log_format: Literal["text", "json"] = "text"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    clock: Literal["wall", "simulated"] = "wall"
    sim_start: datetime = datetime(2026, 1, 1, tzinfo=UTC)
    summary_interval_s: float = Field(60.0, gt=0)
    snapshot_interval_s: float = Field(60.0, gt=0)
    stop_timeout_s: float = Field(10.0, gt=0)
    ops: OpsConfig = OpsConfig()

    @field_validator("instance_id")
    @classmethod
    def _instance_id(cls, value: str) -> str:
        return validate_instance_id(value)

    @field_validator("sim_start")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return value if value.tzinfo else value.replace(tzinfo=UTC)


class MarketConfig(StrictModel):
    """A market the bot trades, with its per-market risk limits in base units."""

    venue: str
    symbol: str
    order_size: Decimal = Field(gt=0, description="base units per quote level")
    max_position: Decimal = Field(gt=0, description="absolute base position limit")
    target_base: Decimal | None = Field(
        None, ge=0, description="base balance that counts as flat (default: first balance ever seen)"
    )

    @property
    def key(self) -> str:
        return f"{self.venue}:{self.symbol}"


class RiskConfig(StrictModel):
    max_order_notional: Decimal = Field(Decimal("10000"), gt=0)
    max_total_position_notional: Decimal = Field(Decimal("100000"), gt=0)
    max_open_orders: int = Field(200, gt=0)


VenueConfig = Annotated[MockVenueParams, Field(discriminator="kind")]
StrategyConfig = Annotated[FixedSpreadParams | AvellanedaParams | GlftParams, Field(discriminator="kind")]


class AppConfig(StrictModel):
    bot: BotConfig = BotConfig()
    venues: dict[str, VenueConfig] = Field(min_length=1)
    markets: list[MarketConfig] = Field(min_length=1)
    strategies: dict[str, StrategyConfig] = Field(min_length=1)
    risk: RiskConfig = RiskConfig()

    @field_validator("venues")
    @classmethod
    def _venue_names(cls, venues: dict[str, Any]) -> dict[str, Any]:
        for name in venues:
            if not _VENUE_NAME.match(name):
                raise ValueError(f"venue name {name!r} must be lowercase letters, digits, underscore")
        return venues

    @model_validator(mode="after")
    def _cross_references(self) -> AppConfig:
        keys = [m.key for m in self.markets]
        dupes = sorted({k for k in keys if keys.count(k) > 1})
        if dupes:
            raise ValueError(f"markets: listed twice: {', '.join(dupes)}")
        for i, m in enumerate(self.markets):
            if m.venue not in self.venues:
                raise ValueError(f"markets[{i}].venue: no venue named {m.venue!r} in [venues]")
        owner: dict[str, str] = {}
        for name, strat in self.strategies.items():
            for key in getattr(strat, "markets", []):
                if key not in keys:
                    raise ValueError(f"strategies.{name}.markets: {key!r} is not in [[markets]]")
                if not isinstance(strat, QuotingControls):
                    continue
                if key in owner:
                    raise ValueError(f"strategies.{name}.markets: {key!r} is already quoted by {owner[key]}")
                owner[key] = name
        return self

    def market(self, key: str) -> MarketConfig:
        return next(m for m in self.markets if m.key == key)


def _find_literal_secrets(node: Any, path: str, out: list[str]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{path}.{key}" if path else str(key)
            if str(key).lower() in SECRET_KEYS and isinstance(value, str):
                out.append(
                    f"{here}: secrets are never written in the config; put the value in an environment "
                    f"variable and name it with {key}_env"
                )
            else:
                _find_literal_secrets(value, here, out)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            _find_literal_secrets(value, f"{path}[{i}]", out)


def _field_path(loc: tuple[int | str, ...], data: Any) -> str:
    """Dotted path of an error, skipping the tags pydantic inserts for discriminated unions."""
    parts: list[str] = []
    node = data
    for i, elem in enumerate(loc):
        in_dict = isinstance(node, dict) and elem in node
        in_list = isinstance(node, list) and isinstance(elem, int) and elem < len(node)
        if in_dict or in_list:
            node = node[elem]  # type: ignore[index]
        elif i < len(loc) - 1:
            continue  # a union tag such as 'mock': not a key of the file
        else:
            node = None
        parts.append(f"[{elem}]" if isinstance(elem, int) else ("." if parts else "") + str(elem))
    return "".join(parts) or "(top level)"


def validate_config(data: dict[str, Any], source: str = "config") -> AppConfig:
    problems: list[str] = []
    _find_literal_secrets(data, "", problems)
    if problems:
        raise ConfigError(source, problems)
    try:
        return AppConfig.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            msg = err["msg"].removeprefix("Value error, ")
            if err["loc"]:
                problems.append(f"{_field_path(err['loc'], data)}: {msg}")
            else:
                problems.append(msg)  # model validators already name the field
        raise ConfigError(source, problems) from None


def load_config(path: str | Path) -> AppConfig:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot read file: {exc.strerror}"]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), [f"TOML syntax: {exc}"]) from None
    return validate_config(data, str(path))


def _mask_url(url: str) -> str:
    return re.sub(r"(://[^:/@]+:)[^@]+@", r"\1***@", url)


def masked_config(config: AppConfig) -> dict[str, Any]:
    """The effective config (defaults filled in) with nothing secret in it."""
    data = config.model_dump(mode="json")
    data["bot"]["database_url"] = _mask_url(data["bot"]["database_url"])

    def annotate(node: Any) -> None:
        if isinstance(node, dict):
            for key in list(node):
                value = node[key]
                if key.endswith("_env") and isinstance(value, str):
                    node[key] = f"{value} ({'set' if os.environ.get(value) else 'not set'})"
                else:
                    annotate(value)
        elif isinstance(node, list):
            for v in node:
                annotate(v)

    annotate(data)
    return data
