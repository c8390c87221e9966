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
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from amm.chain.params import UniswapV3VenueParams
from amm.sim.params import SimPoolParams
from bot.app.config_numbers import join_path, number_problems
from bot.core.config_base import ConfigError, StrictModel
from bot.core.ids import validate_instance_id
from bot.kernel.controls import QuotingControls
from bot.kernel.risk_config import RiskConfig
from bot.ops.settings import JobsConfig, NotifyConfig, OpsConfig
from connectors.ccxt.params import CcxtVenueParams
from connectors.mock.params import MockVenueParams
from connectors.replay.params import ReplayVenueParams
from strategies.lp.hedger import HedgerParams
from strategies.lp.params import LpManagerParams
from strategies.quoting.models import QuoteConfig
from strategies.quoting.multi_venue import MultiVenueParams
from strategies.xvenue.amm_arbitrage import AmmArbitrageParams
from strategies.xvenue.xemm import XemmParams

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




VenueConfig = Annotated[
    MockVenueParams | CcxtVenueParams | SimPoolParams | UniswapV3VenueParams | ReplayVenueParams,
    Field(discriminator="kind"),
]
# Venues that are AMM pools (amm.ports.AmmPool in BotContext.pools), not order books.
POOL_VENUE_PARAMS = (SimPoolParams, UniswapV3VenueParams)
StrategyConfig = Annotated[
    QuoteConfig
    | MultiVenueParams
    | XemmParams
    | AmmArbitrageParams
    | LpManagerParams
    | HedgerParams,
    Field(discriminator="kind"),
]


def _check_fair_source(name: str, pool: SimPoolParams, venues: dict[str, Any]) -> None:
    """A simulated pool follows the latent price of a market on a mock venue of this config."""
    fair = venues.get(pool.fair_venue)
    if not isinstance(fair, MockVenueParams):
        raise ValueError(f"venues.{name}.fair_venue: {pool.fair_venue!r} is not a mock venue of [venues]")
    if pool.fair_symbol not in {m.symbol for m in fair.markets}:
        raise ValueError(
            f"venues.{name}.fair_symbol: {pool.fair_symbol!r} is not a market of {pool.fair_venue}"
        )


def _check_chain_fair_source(name: str, pool: UniswapV3VenueParams, config: AppConfig) -> None:
    """A chain pool's fair price: a market of [[markets]] on that venue, or a mock venue's market."""
    venue = config.venues.get(pool.fair_venue or "")
    if venue is None or isinstance(venue, POOL_VENUE_PARAMS):
        raise ValueError(
            f"venues.{name}.fair_venue: {pool.fair_venue!r} is not an order-book venue of [venues]"
        )
    traded = {m.symbol for m in config.markets if m.venue == pool.fair_venue}
    latent = {m.symbol for m in venue.markets} if isinstance(venue, MockVenueParams) else set()
    if pool.fair_symbol not in traded | latent:
        raise ValueError(
            f"venues.{name}.fair_symbol: {pool.fair_symbol!r} is neither in [[markets]] on "
            f"{pool.fair_venue} nor a mock market there"
        )


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
        for name, venue in self.venues.items():
            if isinstance(venue, SimPoolParams):
                _check_fair_source(name, venue, self.venues)
            elif isinstance(venue, UniswapV3VenueParams) and venue.fair_venue is not None:
                _check_chain_fair_source(name, venue, self)
        dupes = sorted({k for k in keys if keys.count(k) > 1})
        if dupes:
            raise ValueError(f"markets: listed twice: {', '.join(dupes)}")
        for i, m in enumerate(self.markets):
            if m.venue not in self.venues:
                raise ValueError(f"markets[{i}].venue: no venue named {m.venue!r} in [venues]")
            venue = self.venues[m.venue]
            if isinstance(venue, POOL_VENUE_PARAMS):
                raise ValueError(f"markets[{i}].venue: {m.venue!r} is a pool, not an order-book venue")
            if isinstance(venue, MockVenueParams) and m.symbol not in {v.symbol for v in venue.markets}:
                raise ValueError(f"markets[{i}].symbol: {m.symbol!r} is not a market of venue {m.venue}")
        for name, strat in self.strategies.items():
            for pool in getattr(strat, "pools", []):
                if not isinstance(self.venues.get(pool), POOL_VENUE_PARAMS):
                    raise ValueError(
                        f"strategies.{name}.pools: {pool!r} is not a sim_pool or uniswap_v3 venue of [venues]"
                    )
                unanchored = getattr(self.venues[pool], "fair_venue", None) is None
                if isinstance(strat, LpManagerParams) and unanchored:
                    raise ValueError(f"strategies.{name}.pools: {pool!r} has no fair_venue / fair_symbol")
        owner: dict[str, str] = {}
        for name, strat in self.strategies.items():
            for key in getattr(strat, "markets", []):
                if key not in keys:
                    raise ValueError(f"strategies.{name}.markets: {key!r} is not in [[markets]]")
                quoted = (
                    strat.markets
                    if isinstance(strat, QuotingControls)
                    else getattr(strat, "quoted_markets", [])
                )
                if key not in quoted:
                    continue
                if key in owner:
                    raise ValueError(f"strategies.{name}.markets: {key!r} is already quoted by {owner[key]}")
                owner[key] = name
        for name, strat in self.strategies.items():
            if isinstance(strat, LpManagerParams):
                strat.check_cex_market(name, self.venues, keys, owner)
            for key in getattr(strat, "exclusive_markets", []):
                if key in owner:
                    raise ValueError(
                        f"strategies.{name}.market: {key!r} is quoted by {owner[key]}; hedge elsewhere"
                    )
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
            node = node[elem]  # type: ignore[index]
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
    problems = number_problems(data, config.model_dump())
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
    out: dict[str, tuple[str, str]] = {}
    for name, venue in config.venues.items():
        if isinstance(venue, POOL_VENUE_PARAMS) and venue.fair_venue is not None:
            out[name] = (venue.fair_venue, venue.fair_symbol or "")
    return out
