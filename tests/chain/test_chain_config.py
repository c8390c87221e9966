"""Venue config, revert decoding and the signer: pure functions, no chain needed."""

from __future__ import annotations

import pickle
from typing import Any

import pytest
from eth_abi import encode
from pydantic import ValidationError

from amm.chain.params import UniswapV3VenueParams
from amm.chain.revert_reasons import decode_revert
from amm.chain.wallet import Signer, WalletKeyError

WETH = "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2"
USDC = "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"
KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"  # anvil dev key #1


def venue(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "kind": "uniswap_v3",
        "rpc_url": "https://rpc.example.org",
        "chain_id": 1,
        "addresses": {
            "factory": "0x1F98431c8aD98523631AE4a59f267346ea31F984",
            "position_manager": "0xC36442b4a4522E871399CD717aBDD847Ab11FE88",
            "swap_router": "0xE592427A0AEce92De3Edee1F18E0157C05861564",
            "quoter": "0x61fFE014bA17989E743c5F6cB21bF9697530B21e",
            "tokens": {"WETH": WETH},
        },
        "pool": {"token0": USDC, "token1": "WETH", "fee_pips": 500},
        "wallet_key_env": "MM_WALLET_KEY",
        "max_fee_gwei": "80",
    }
    data.update(overrides)
    return data


def error_text(data: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as info:
        UniswapV3VenueParams.model_validate(data)
    return str(info.value)


def test_a_valid_venue_resolves_symbols_and_defaults() -> None:
    params = UniswapV3VenueParams.model_validate(venue())
    assert params.token_address("token1") == WETH and params.token_address("token0") == USDC
    assert (params.max_fee_wei, params.priority_fee_wei) == (80 * 10**9, None)
    assert (params.slippage_bps, params.deadline_s, params.tx_timeout_s) == (50, 300, 120.0)


def test_lowercase_addresses_are_checksummed() -> None:
    params = UniswapV3VenueParams.model_validate(
        venue(pool={"token0": USDC.lower(), "token1": WETH, "fee_pips": 500})
    )
    assert params.token_address("token0") == USDC


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"private_key": KEY}, "private_key\n  Extra inputs are not permitted"),
        (
            {"wallet_key_env": KEY},
            "wallet_key_env\n  Value error, must be the NAME of an environment variable",
        ),
        ({"rpc_url": "wss://rpc.example.org"}, "rpc_url\n  Value error, must be an http:// or https://"),
        ({"slippage_bps": 10_001}, "slippage_bps\n  Input should be less than or equal to 10000"),
        ({"max_fee_gwei": "0"}, "max_fee_gwei\n  Input should be greater than 0"),
        (
            {"pool": {"token0": USDC, "token1": "DAI", "fee_pips": 500}},
            "pool.token1: unknown token symbol 'DAI'",
        ),
        (
            {"pool": {"token0": WETH, "token1": "WETH", "fee_pips": 500}},
            "pool.token1: must differ from pool.token0",
        ),
        (
            {"pool": {"token0": USDC, "token1": WETH, "fee_pips": 0}},
            "pool.fee_pips\n  Input should be greater than 0",
        ),
    ],
)
def test_bad_venues_name_the_field(overrides: dict[str, Any], expected: str) -> None:
    assert expected in error_text(venue(**overrides))


def test_a_mistyped_checksum_is_refused() -> None:
    typo = USDC[:-1] + "b"  # mixed case with a wrong checksum
    text = error_text(venue(addresses=venue()["addresses"] | {"quoter": typo}))
    assert "addresses.quoter" in text and "wrong EIP-55 checksum" in text


def test_revert_payloads_decode() -> None:
    error_string = bytes.fromhex("08c379a0") + encode(["string"], ["Too little received"])
    assert decode_revert(error_string) == "Too little received (the swap output is below amountOutMinimum)"
    assert decode_revert("0x" + (bytes.fromhex("08c379a0") + encode(["string"], ["LOK"])).hex()).startswith(
        "LOK ("
    )
    assert decode_revert(bytes.fromhex("4e487b71") + encode(["uint256"], [0x11])) == (
        "panic 0x11 (arithmetic overflow or underflow)"
    )
    assert decode_revert("0x") == "reverted without a reason"
    assert decode_revert(bytes.fromhex("deadbeef")) == "custom error 0xdeadbeef"


def test_signer_reads_the_named_variable_and_never_shows_the_key() -> None:
    signer = Signer.from_env("MM_WALLET_KEY", {"MM_WALLET_KEY": KEY})
    assert signer.address == "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
    assert repr(signer) == "Signer(0x70997970C51812dc3A010C7d01b50e0d17dc79C8, key from $MM_WALLET_KEY)"
    with pytest.raises(TypeError, match="never pickled"):
        pickle.dumps(signer)
    assert not hasattr(signer, "__dict__")


def test_signer_errors_name_the_variable_not_the_value() -> None:
    with pytest.raises(WalletKeyError, match=r"MM_WALLET_KEY \(wallet_key_env\) is not set"):
        Signer.from_env("MM_WALLET_KEY", {})
    bad = "0x" + "zz" * 32
    with pytest.raises(WalletKeyError, match="MM_WALLET_KEY does not hold a valid private key") as info:
        Signer.from_env("MM_WALLET_KEY", {"MM_WALLET_KEY": bad})
    assert bad not in str(info.value) and info.value.__cause__ is None and info.value.__suppress_context__
