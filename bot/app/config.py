"""The TOML config: parsed with tomllib, validated with pydantic v2, unknown keys rejected.

Errors come back as one line per problem, `<dotted.field.path>: <what is wrong>`, so an operator
editing the file on a VPS sees exactly which key to fix. Credentials are never values in the file:
a config names the environment variable that holds them (`api_key_env = "BINANCE_KEY"`).
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from bot.app.config_checks import (
    check_markets,
    check_pool_anchors,
    check_reserved_markets,
    check_strategy_pools,
    market_owners,
    pool_anchor,
)
from bot.app.config_numbers import join_path, number_problems
from bot.app.config_ranges import range_problems
from bot.core.config_base import ConfigError, StrictModel
from bot.core.ids import validate_instance_id
from bot.kernel.risk_config import RiskConfig
from bot.ops.settings import JobsConfig, NotifyConfig, OpsConfig
from connectors.registry import VENUE_KINDS
from strategies.registry import STRATEGY_KINDS

SECRET_KEYS = frozenset(
    {"api_key", "apikey", "secret", "api_secret", "private_key", "password", "passphrase", "token"}
)
_VENUE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


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
    config_poll_interval_s: float = Field(5.0, ge=0, description="hot reload on change; 0 = SIGHUP only")
    ops: OpsConfig = OpsConfig()
    jobs: JobsConfig = JobsConfig()
    notify: NotifyConfig = NotifyConfig()

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


def _tagged_union(models: list[type[BaseModel]]) -> Any:
    """One of `models`, picked by its `kind` (their order is the order errors list the kinds in)."""
    return Annotated[Union[tuple(models)], Field(discriminator="kind")]  # noqa: UP007


if TYPE_CHECKING:
    VenueConfig = BaseModel
    StrategyConfig = BaseModel
else:
    # Assembled from the registries: a new venue or strategy kind is one row there, none here.
    VenueConfig = _tagged_union([row.params for row in VENUE_KINDS.values()])
    StrategyConfig = _tagged_union([row.params for row in STRATEGY_KINDS.values()])


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
        check_pool_anchors(self.venues, self.markets)
        check_markets(self.venues, self.markets)
        check_strategy_pools(self.strategies, self.venues)
        owner = market_owners(self.strategies, keys)
        check_reserved_markets(self.strategies, self.venues, keys, owner)
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
    path = ""
    node = data
    for i, elem in enumerate(loc):
        in_dict = isinstance(node, dict) and elem in node
        in_list = isinstance(node, list) and isinstance(elem, int) and elem < len(node)
        if in_dict or in_list:
            node = node[elem]
        elif i < len(loc) - 1:
            continue  # a union tag such as 'mock': not a key of the file
        else:
            node = None
        path = join_path(path, elem)
    return path or "(top level)"


_TABLE_EXPECTED = "Input should be a table ([section] or { key = value, ... })"


def validate_config(data: dict[str, Any], source: str = "config") -> AppConfig:
    problems: list[str] = []
    _find_literal_secrets(data, "", problems)
    if problems:
        raise ConfigError(source, problems)
    try:
        config = AppConfig.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            msg = _TABLE_EXPECTED if err["type"] in ("model_type", "model_attributes_type") else err["msg"]
            msg = msg.removeprefix("Value error, ")
            if err["loc"]:
                problems.append(f"{_field_path(err['loc'], data)}: {msg}")
            else:
                problems.append(msg)  # model validators already name the field
        raise ConfigError(source, problems) from None
    problems = number_problems(data, config.model_dump()) or range_problems(config.venues, config.markets)
    if problems:
        raise ConfigError(source, problems)
    return config


def load_config(path: str | Path) -> AppConfig:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot read file: {exc.strerror}"]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(str(path), [f"not UTF-8 text: byte {exc.start} cannot be decoded"]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), [f"TOML syntax: {exc}"]) from None
    return validate_config(data, str(path))


def _mask_url(url: str) -> str:
    return re.sub(r"(://[^:/@]+:)[^@]+@", r"\1***@", url)


def _env_fields(node: Any) -> Iterator[tuple[dict[str, Any], str]]:
    """Every (table, key) whose key ends in `_env`: the fields that name a secret's env var."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key.endswith("_env") and isinstance(value, str):
                yield node, key
            else:
                yield from _env_fields(value)
    elif isinstance(node, list):
        for value in node:
            yield from _env_fields(value)


def secret_env_names(config: AppConfig) -> list[str]:
    """Names of the environment variables holding this config's secrets (for log redaction)."""
    return [table[key] for table, key in _env_fields(config.model_dump(mode="json"))]


def masked_config(config: AppConfig) -> dict[str, Any]:
    """The effective config (defaults filled in) with nothing secret in it."""
    data = config.model_dump(mode="json")
    data["bot"]["database_url"] = _mask_url(data["bot"]["database_url"])
    for table, key in list(_env_fields(data)):
        name = table[key]
        table[key] = f"{name} ({'set' if os.environ.get(name) else 'not set'})"
    return data


def pool_fair_markets(config: AppConfig) -> dict[str, tuple[str, str]]:
    """Pool venue name -> (venue, symbol) of the market whose price anchors it (pools with one)."""
    anchors = {name: pool_anchor(venue) for name, venue in config.venues.items()}
    return {name: anchor for name, anchor in anchors.items() if anchor is not None}
