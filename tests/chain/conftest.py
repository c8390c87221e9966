"""Fixtures for the chain tests: one anvil with Uniswap v3 per session, a snapshot per test.

Each test starts from the same freshly deployed state: `chain_snapshot` takes an evm_snapshot before
it and reverts after, which is much faster than redeploying.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from web3 import Web3

from amm.chain.anvil import Anvil
from amm.chain.artifacts import ArtifactsMissing, require_node_modules
from amm.chain.local_chain import UniswapDeployment, deploy_uniswap
from amm.chain.pool import ChainPool
from bot.core.clock import LoopClock

LP_ACCOUNT = 1  # account 0 deployed everything
TRADER_ACCOUNT = 2


@pytest.fixture(scope="session")
def anvil() -> Iterator[Anvil]:
    try:
        require_node_modules()
    except ArtifactsMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    with Anvil() as node:
        yield node


@pytest.fixture(scope="session")
def uniswap(anvil: Anvil) -> UniswapDeployment:
    return deploy_uniswap(anvil.rpc_url, fee_pips=3000, price=2000, accounts=anvil.accounts)


@pytest.fixture(scope="session")
def rpc(uniswap: UniswapDeployment) -> Web3:
    """Sync web3 for test set-up and anvil cheat codes (never for the code under test)."""
    return Web3(Web3.HTTPProvider(uniswap.rpc_url))


def cheat(rpc: Web3, method: str, *params: Any) -> Any:
    answer = rpc.provider.make_request(method, list(params))  # type: ignore[arg-type]
    if "error" in answer:
        raise RuntimeError(f"{method}: {answer['error']}")
    return answer["result"]


@pytest.fixture
def chain_snapshot(rpc: Web3) -> Iterator[None]:
    snapshot = cheat(rpc, "evm_snapshot")
    yield
    cheat(rpc, "evm_setAutomine", True)  # a test may have turned it off
    assert cheat(rpc, "evm_revert", snapshot) is True


@pytest.fixture
async def connect_pool(
    uniswap: UniswapDeployment, monkeypatch: pytest.MonkeyPatch, chain_snapshot: None
) -> AsyncIterator[Any]:
    """`await connect_pool(account=1, **venue_param_overrides)`: a ChainPool closed after the test."""
    opened: list[ChainPool] = []

    async def connect(account: int | str = LP_ACCOUNT, **overrides: Any) -> ChainPool:
        """`account`: index of a funded anvil account, or a private key."""
        key = uniswap.accounts[account].private_key if isinstance(account, int) else account
        env = f"MMBOT_TEST_KEY_{account if isinstance(account, int) else 'X'}"
        monkeypatch.setenv(env, key)
        # deadline_s: chain time runs ahead of the wall clock in tests that warp it
        params = uniswap.venue_params(env, **({"deadline_s": 3600} | overrides))
        pool = await ChainPool.connect(params, LoopClock())
        opened.append(pool)
        return pool

    yield connect
    for pool in opened:
        await pool.close()


@pytest.fixture
async def lp_pool(connect_pool: Any) -> ChainPool:
    """The LP's wallet on the test pool (anvil account 1)."""
    return await connect_pool(LP_ACCOUNT)


@pytest.fixture
async def trader_pool(connect_pool: Any) -> ChainPool:
    """Another wallet (anvil account 2) that swaps against the LP."""
    return await connect_pool(TRADER_ACCOUNT)
