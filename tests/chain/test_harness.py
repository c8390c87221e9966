"""The local chain harness: deployment facts, clean shutdown, clear errors, shipped ABIs."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import pytest
from eth_utils import keccak, to_checksum_address
from web3 import Web3

from amm.chain.anvil import Anvil
from amm.chain.artifacts import (
    RUNTIME_ABIS,
    ArtifactsMissing,
    compile_test_token,
    load_abi,
    npm_artifact,
    require_node_modules,
)
from amm.chain.local_chain import UniswapDeployment, sqrt_price_x96_for
from amm.math.tick_math import get_tick_at_sqrt_ratio

pytestmark = pytest.mark.chain

# PoolAddress.POOL_INIT_CODE_HASH baked into v3-periphery 1.4.4
POOL_INIT_CODE_HASH = bytes.fromhex("e34f199b19b2b4f47f68442619d555527d244f78a3297ea89325f843f87b8b54")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_pool_sits_where_the_periphery_computes_it(uniswap: UniswapDeployment) -> None:
    salt = keccak(
        bytes.fromhex(uniswap.token0.address[2:]).rjust(32, b"\0")
        + bytes.fromhex(uniswap.token1.address[2:]).rjust(32, b"\0")
        + uniswap.fee_pips.to_bytes(32, "big")
    )
    create2 = keccak(b"\xff" + bytes.fromhex(uniswap.factory[2:]) + salt + POOL_INIT_CODE_HASH)
    assert uniswap.pool == to_checksum_address(create2[12:])
    assert int(uniswap.token0.address, 16) < int(uniswap.token1.address, 16)


def test_pool_starts_at_the_requested_price(uniswap: UniswapDeployment, rpc: Web3) -> None:
    pool = rpc.eth.contract(address=uniswap.pool, abi=load_abi("UniswapV3Pool"))  # type: ignore[call-overload]
    sqrt_price_x96, tick, *_ = pool.functions.slot0().call()
    base, quote = uniswap.token0, uniswap.token1  # tWETH < tUSD by address in this deployment
    assert (base.symbol, quote.symbol) == ("tWETH", "tUSD")
    assert sqrt_price_x96 == sqrt_price_x96_for(Fraction(2000), base, quote)
    # 2000 tUSD/tWETH = 2000e6 / 1e18 raw: tick = floor(log_1.0001(2e-9)) = floor(-200311.2)
    assert tick == -200_312 == get_tick_at_sqrt_ratio(sqrt_price_x96)


def test_every_account_is_funded(uniswap: UniswapDeployment, rpc: Web3) -> None:
    for token in (uniswap.token0, uniswap.token1):
        erc20 = rpc.eth.contract(address=token.address, abi=load_abi("ERC20"))  # type: ignore[call-overload]
        balances = {erc20.functions.balanceOf(a.address).call() for a in uniswap.accounts}
        assert balances == {10**12 * 10**token.decimals}


def test_test_accounts_hide_their_keys(uniswap: UniswapDeployment) -> None:
    account = uniswap.accounts[1]
    assert account.address in repr(account) and account.private_key[2:] not in repr(account)


def test_anvil_stops_with_its_context() -> None:
    with Anvil() as node:
        pid = node.pid
        assert pid is not None and alive(pid)
        assert Web3(Web3.HTTPProvider(node.rpc_url)).eth.chain_id == 31337
    assert not alive(pid)
    with pytest.raises(RuntimeError, match="not running"):
        _ = node.rpc_url


async def test_anvil_stops_with_its_async_context() -> None:
    async with Anvil(chain_id=1337) as node:
        pid = node.pid
        assert pid is not None and alive(pid)
    assert not alive(pid)


def test_anvil_stops_when_the_body_raises() -> None:
    with pytest.raises(KeyError), Anvil() as node:
        pid = node.pid
        raise KeyError("boom")
    assert pid is not None and not alive(pid)


def test_missing_node_modules_says_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(ArtifactsMissing, match=r"Run `npm ci --no-audit --no-fund`"):
        require_node_modules(tmp_path / "node_modules")


@pytest.mark.parametrize("name", RUNTIME_ABIS)
def test_shipped_abis_equal_the_pinned_npm_artifacts(name: str) -> None:
    assert load_abi(name) == npm_artifact(name).abi


def test_test_token_compiles_to_a_cached_artifact() -> None:
    token = compile_test_token()
    assert token.bytecode.startswith("0x60") and len(token.bytecode) > 1000
    assert {e.get("name") for e in token.abi} >= {"mint", "transferFrom", "decimals", "approve"}
    assert compile_test_token() == token
