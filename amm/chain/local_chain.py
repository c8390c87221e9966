"""A local chain with the real Uniswap v3 contracts: anvil (`amm.chain.anvil`) plus a full deployment.

Used by the chain tests (session fixture) and by operators trying a config without a real chain:

    npm ci --no-audit --no-fund
    python -m amm.chain.local_chain --price 2000 --fee 3000

prints the RPC URL, the contract addresses and the funded test accounts, and runs until Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import time
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from eth_typing import ChecksumAddress
from web3 import Web3

from amm.chain.anvil import Anvil, AnvilError, TestAccount, anvil_accounts
from amm.chain.artifacts import Artifact, compile_test_token, npm_artifact
from amm.chain.params import PoolSpec, UniswapV3Addresses, UniswapV3VenueParams
from amm.math.conversions import price_to_sqrt_price_x96
from amm.ports import TokenInfo


@dataclass(frozen=True, slots=True)
class TokenSpec:
    name: str
    symbol: str
    decimals: int


DEFAULT_BASE = TokenSpec("Test Wrapped Ether", "tWETH", 18)
DEFAULT_QUOTE = TokenSpec("Test USD", "tUSD", 6)


@dataclass(frozen=True, slots=True)
class UniswapDeployment:
    rpc_url: str
    chain_id: int
    factory: str
    position_manager: str
    swap_router: str
    quoter: str
    tick_lens: str
    weth9: str
    token0: TokenInfo
    token1: TokenInfo
    pool: str
    fee_pips: int
    accounts: tuple[TestAccount, ...]

    def venue_params(self, wallet_key_env: str, **overrides: Any) -> UniswapV3VenueParams:
        """Venue config pointing at this deployment (the pool's tokens by symbol)."""
        fields: dict[str, Any] = {
            "rpc_url": self.rpc_url,
            "chain_id": self.chain_id,
            "addresses": UniswapV3Addresses(
                factory=self.factory,
                position_manager=self.position_manager,
                swap_router=self.swap_router,
                quoter=self.quoter,
                tick_lens=self.tick_lens,
                tokens={self.token0.symbol: self.token0.address, self.token1.symbol: self.token1.address},
            ),
            "pool": PoolSpec(token0=self.token0.symbol, token1=self.token1.symbol, fee_pips=self.fee_pips),
            "wallet_key_env": wallet_key_env,
            "max_fee_gwei": Decimal(1000),
            "receipt_poll_s": 0.02,
        }
        fields.update(overrides)
        return UniswapV3VenueParams(**fields)


def sqrt_price_x96_for(price: Fraction, base: TokenInfo, quote: TokenInfo) -> int:
    """sqrtPriceX96 (floor) of the pool holding base and quote, `price` in quote per base, human units."""
    if int(base.address, 16) < int(quote.address, 16):
        return price_to_sqrt_price_x96(price, base.decimals, quote.decimals)
    return price_to_sqrt_price_x96(1 / price, quote.decimals, base.decimals)  # the pool prices token1


def _deploy(w3: Web3, artifact: Artifact, deployer: str, *args: Any) -> ChecksumAddress:
    contract = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    tx_hash = contract.constructor(*args).transact({"from": deployer})
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)
    address = receipt["contractAddress"]
    if receipt["status"] != 1 or address is None:
        raise AnvilError(f"deploying {artifact.name} reverted")
    return address


def _transact(w3: Web3, fn: Any, sender: str) -> None:
    receipt = w3.eth.wait_for_transaction_receipt(fn.transact({"from": sender}), timeout=30)
    if receipt["status"] != 1:
        raise AnvilError(f"{fn.fn_name} reverted")


def deploy_uniswap(
    rpc_url: str,
    *,
    fee_pips: int = 3000,
    price: Fraction | Decimal | int | str = 2000,
    base: TokenSpec = DEFAULT_BASE,
    quote: TokenSpec = DEFAULT_QUOTE,
    fund_raw_amount: int = 10**12,
    accounts: tuple[TestAccount, ...] | None = None,
) -> UniswapDeployment:
    """Deploy Uniswap v3 (factory, position manager, router, QuoterV2, TickLens), WETH9 and two test
    tokens on an unlocked dev chain, create the pool at `price` (quote per base) and give every account
    `fund_raw_amount` whole tokens of each (times 10**decimals) and nothing else."""
    w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": 30}))
    accounts = accounts if accounts is not None else anvil_accounts(10)
    deployer = accounts[0].address
    token_artifact = compile_test_token()

    factory = _deploy(w3, npm_artifact("UniswapV3Factory"), deployer)
    weth9 = _deploy(w3, npm_artifact("WETH9"), deployer)
    # The descriptor only serves tokenURI(); any address will do on a test chain.
    position_manager = _deploy(
        w3, npm_artifact("NonfungiblePositionManager"), deployer, factory, weth9, weth9
    )
    swap_router = _deploy(w3, npm_artifact("SwapRouter"), deployer, factory, weth9)
    quoter = _deploy(w3, npm_artifact("QuoterV2"), deployer, factory, weth9)
    tick_lens = _deploy(w3, npm_artifact("TickLens"), deployer)

    infos = {}
    for spec in (base, quote):
        address = _deploy(w3, token_artifact, deployer, spec.name, spec.symbol, spec.decimals)
        infos[spec.symbol] = TokenInfo(address, spec.symbol, spec.decimals)
        token = w3.eth.contract(address=address, abi=token_artifact.abi)
        for acct in accounts:
            _transact(w3, token.functions.mint(acct.address, fund_raw_amount * 10**spec.decimals), deployer)
    base_info, quote_info = infos[base.symbol], infos[quote.symbol]
    token0, token1 = sorted((base_info, quote_info), key=lambda t: int(t.address, 16))

    sqrt_price_x96 = sqrt_price_x96_for(Fraction(price), base_info, quote_info)
    npm = w3.eth.contract(address=position_manager, abi=npm_artifact("NonfungiblePositionManager").abi)
    create = npm.functions.createAndInitializePoolIfNecessary(
        token0.address, token1.address, fee_pips, sqrt_price_x96
    )
    _transact(w3, create, deployer)
    factory_contract = w3.eth.contract(address=factory, abi=npm_artifact("UniswapV3Factory").abi)
    pool = factory_contract.functions.getPool(token0.address, token1.address, fee_pips).call()

    return UniswapDeployment(
        rpc_url=rpc_url,
        chain_id=w3.eth.chain_id,
        factory=factory,
        position_manager=position_manager,
        swap_router=swap_router,
        quoter=quoter,
        tick_lens=tick_lens,
        weth9=weth9,
        token0=token0,
        token1=token1,
        pool=pool,
        fee_pips=fee_pips,
        accounts=accounts,
    )


def describe(deployment: UniswapDeployment) -> str:
    lines = [
        f"RPC URL            {deployment.rpc_url}  (chain id {deployment.chain_id})",
        f"UniswapV3Factory   {deployment.factory}",
        f"PositionManager    {deployment.position_manager}",
        f"SwapRouter         {deployment.swap_router}",
        f"QuoterV2           {deployment.quoter}",
        f"TickLens           {deployment.tick_lens}",
        f"WETH9              {deployment.weth9}",
        f"token0             {deployment.token0.address}  {deployment.token0.symbol} "
        f"({deployment.token0.decimals} decimals)",
        f"token1             {deployment.token1.address}  {deployment.token1.symbol} "
        f"({deployment.token1.decimals} decimals)",
        f"pool               {deployment.pool}  fee {deployment.fee_pips} pips",
        "",
        "Funded test accounts (anvil's public dev keys: never use them on a real chain):",
    ]
    lines += [f"  {a.address}  {a.private_key}" for a in deployment.accounts]
    return "\n".join(lines)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m amm.chain.local_chain", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--fee", type=int, default=3000, help="pool fee tier in pips (default 3000)")
    parser.add_argument("--price", default="2000", help="initial price, tUSD per tWETH (default 2000)")
    parser.add_argument("--accounts", type=int, default=10, help="funded test accounts (default 10)")
    args = parser.parse_args(argv)
    with Anvil(accounts=args.accounts) as anvil:
        deployment = deploy_uniswap(
            anvil.rpc_url, fee_pips=args.fee, price=Fraction(args.price), accounts=anvil.accounts
        )
        print(describe(deployment), flush=True)
        print("\nRunning; Ctrl-C stops anvil.", flush=True)
        signal.signal(signal.SIGTERM, _interrupt)  # `kill` stops anvil as cleanly as Ctrl-C
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
