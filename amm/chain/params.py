"""Config of one Uniswap v3 venue: which chain, which contracts, which pool, which wallet, what limits.

The wallet key is never a value here: `wallet_key_env` names the environment variable holding it.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

_HEX_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SYMBOL = re.compile(r"^[A-Za-z0-9._-]{1,32}$")
GWEI = 10**9


def checksum_address(value: str) -> str:
    """An EVM address in checksum form; a mixed-case address with a wrong checksum is a typo."""
    # imported here: every config load reads these params, only a uniswap_v3 venue needs eth_utils
    from eth_utils import is_checksum_address, to_checksum_address

    if not _HEX_ADDRESS.match(value):
        raise ValueError(f"{value!r} is not a 0x-prefixed 20-byte hex address")
    mixed_case = value[2:] != value[2:].lower() and value[2:] != value[2:].upper()
    if mixed_case and not is_checksum_address(value):
        raise ValueError(f"{value!r} has a wrong EIP-55 checksum (mistyped address?)")
    return to_checksum_address(value)


Address = Annotated[str, AfterValidator(checksum_address)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class UniswapV3Addresses(_Strict):
    factory: Address
    position_manager: Address
    swap_router: Address
    quoter: Address  # QuoterV2
    tick_lens: Address | None = None
    # symbol -> address, so `pool.token0 = "WETH"` can be written instead of an address
    tokens: dict[str, Address] = Field(default_factory=dict)

    @field_validator("tokens")
    @classmethod
    def _symbols(cls, tokens: dict[str, str]) -> dict[str, str]:
        for symbol in tokens:
            if not _SYMBOL.match(symbol):
                raise ValueError(f"token symbol {symbol!r} must be 1-32 letters, digits, '.', '_' or '-'")
        return tokens


class PoolSpec(_Strict):
    token0: str = Field(description="0x address, or a symbol listed in addresses.tokens")
    token1: str = Field(description="0x address, or a symbol listed in addresses.tokens")
    fee_pips: int = Field(gt=0, lt=1_000_000, description="fee tier in hundredths of a bip: 500 = 0.05 %")


class UniswapV3VenueParams(_Strict):
    kind: Literal["uniswap_v3"] = "uniswap_v3"
    rpc_url: str
    chain_id: int = Field(gt=0)
    addresses: UniswapV3Addresses
    pool: PoolSpec
    wallet_key_env: str = Field(description="NAME of the environment variable holding the private key")
    max_fee_gwei: Decimal = Field(gt=0, description="hard cap on maxFeePerGas; above it nothing is sent")
    priority_fee_gwei: Decimal | None = Field(
        None, ge=0, description="tip per gas; default: the node's eth_maxPriorityFeePerGas"
    )
    slippage_bps: int = Field(50, ge=0, le=10_000)
    tx_timeout_s: float = Field(120.0, gt=0)
    replace_after_s: float = Field(
        60.0,
        gt=0,
        description="a transaction of ours pending longer is re-sent at its nonce with a higher fee",
    )
    cancel_after_s: float = Field(
        300.0,
        gt=0,
        description="a transaction of ours pending longer that cannot be re-sent (its simulation "
        "reverts now, or no fee room under max_fee_gwei) is cancelled: a zero-value transfer to "
        "ourselves at its nonce",
    )
    rpc_timeout_s: float = Field(30.0, gt=0, description="one JSON-RPC request; a stalled node fails it")
    deadline_s: int = Field(300, gt=0)
    receipt_poll_s: float = Field(1.0, gt=0)
    gas_buffer_pct: int = Field(20, ge=0, le=500, description="added to eth_estimateGas for the gas limit")
    # The price an LP manager centres its ranges on (token1 per token0, so BASE must be token0): the
    # mid of a market the bot trades there, else (a mock venue) its latent price.
    fair_venue: str | None = Field(None, min_length=1, description="venue of the fair price")
    fair_symbol: str | None = Field(None, min_length=1, description="BASE/QUOTE there, BASE = token0")

    @field_validator("rpc_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// JSON-RPC URL")
        return value

    @field_validator("wallet_key_env")
    @classmethod
    def _env_name(cls, value: str) -> str:
        if not _ENV_NAME.match(value):
            raise ValueError(
                "must be the NAME of an environment variable (letters, digits, underscore), never the key"
            )
        return value

    @model_validator(mode="after")
    def _resolve_pool_tokens(self) -> UniswapV3VenueParams:
        if (self.fair_venue is None) != (self.fair_symbol is None):
            raise ValueError("fair_venue and fair_symbol: give both or neither")
        for field in ("token0", "token1"):
            self.token_address(field)  # raises with the field named
        if self.token_address("token0") == self.token_address("token1"):
            raise ValueError("pool.token1: must differ from pool.token0")
        return self

    def token_address(self, field: Literal["token0", "token1"]) -> str:
        value = getattr(self.pool, field)
        if value.startswith("0x"):
            try:
                return checksum_address(value)
            except ValueError as exc:
                raise ValueError(f"pool.{field}: {exc}") from None
        if value not in self.addresses.tokens:
            raise ValueError(
                f"pool.{field}: unknown token symbol {value!r}; give its 0x address or list it under "
                "addresses.tokens"
            )
        return self.addresses.tokens[value]

    @property
    def max_fee_wei(self) -> int:
        return int(self.max_fee_gwei * GWEI)

    @property
    def priority_fee_wei(self) -> int | None:
        return None if self.priority_fee_gwei is None else int(self.priority_fee_gwei * GWEI)
