"""Valid configs to start from and hypothesis strategies that break them in one place.

A `Mutation` knows where it struck (the dotted path) and, when the schema makes it certain, that
the result must be refused (`must_fail`); other mutations (a negative seed, a huge size) may or may
not stay valid, and the fuzzer only requires a clean answer either way.
"""

from __future__ import annotations

import copy
import datetime as dt
import math
import tomllib
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from bot.app.config_numbers import join_path
from tests.kit import REPO_ROOT, small_config_dict

WETH = "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2"
USDC = "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"
# Tables whose keys are data (assets, token symbols, ccxt options), not fields of a model.
FREE_FORM = frozenset({"initial_balances", "options", "tokens"})
Path = tuple[int | str, ...]


def every_kind_config() -> dict[str, Any]:
    """The example config plus one venue and one strategy of every other kind, all valid."""
    data = tomllib.loads((REPO_ROOT / "config.example.toml").read_text())
    venues, strategies = data["venues"], data["strategies"]
    venues["cx"] = {
        "kind": "ccxt",
        "exchange": "binance",
        "urls": "http://127.0.0.1:9",
        "api_key_env": "K",
        "secret_env": "S",
        "options": {"fetchCurrencies": False},
        "maker_fee_bps": "1",
    }
    venues["rp"] = {"kind": "replay", "data": "events.npz", "initial_balances": {"USDT": "1000", "BTC": "1"}}
    venues["chain"] = {
        "kind": "uniswap_v3",
        "rpc_url": "http://127.0.0.1:8545",
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
    data["markets"] += [
        {"venue": "cx", "symbol": "BTC/USDT", "order_size": "0.001", "max_position": "0.01"},
        {
            "venue": "rp",
            "symbol": "BTC/USDT",
            "order_size": "0.001",
            "max_position": "0.01",
            "target_base": "1",
        },
    ]
    strategies["mm"]["markets"] = ["sim_b:SOL/USDT"]
    del strategies["glft"]
    strategies["xmm"] = {
        "kind": "multi_venue_mm",
        "markets": ["sim_b:BTC/USDT", "cx:BTC/USDT"],
        "bid_spread_bps": 3,
        "ask_spread_bps": 3,
        "fair_value": {"method": "microprice", "stale_after_ms": 5000, "latency_half_life_ms": 1000},
    }
    strategies["xemm"] = {
        "kind": "xemm",
        "maker_markets": ["rp:BTC/USDT"],
        "taker_market": "sim_a:BTC/USDT",
        "min_profitability_bps": 2,
        "hedge_max_attempts": 3,
    }
    strategies["g"] = {"kind": "glft", "markets": ["sim_a:BTC/USDT"], "gamma": 0.01}
    strategies["arb"] = {
        "kind": "amm_arbitrage",
        "pool": "chain",
        "cex_market": "sim_a:ETH/USDT",
        "max_trade_base": 2,
        "min_profit_quote": 1,
    }
    data["risk"].update(max_orders_per_minute=600, max_price_jump_pct=3.0, pause_cooldown_s=300)
    return data


BASES: dict[str, dict[str, Any]] = {
    "example": tomllib.loads((REPO_ROOT / "config.example.toml").read_text()),
    "testnet": tomllib.loads((REPO_ROOT / "config.testnet.toml").read_text()),
    "small": small_config_dict("sqlite:///fuzz.sqlite"),
    "every_kind": every_kind_config(),
}


def dotted(path: Path) -> str:
    out = ""
    for key in path:
        out = join_path(out, key)
    return out


def nodes(data: Any, path: Path = ()) -> list[tuple[Path, Any]]:
    """Every (path, value) of the tree, tables and lists included (the root excluded)."""
    out: list[tuple[Path, Any]] = [(path, data)] if path else []
    if isinstance(data, dict):
        for key, value in data.items():
            out += nodes(value, (*path, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            out += nodes(value, (*path, i))
    return out


def get(data: Any, path: Path) -> Any:
    for key in path:
        data = data[key]
    return data


def free_form(path: Path) -> bool:
    return any(key in FREE_FORM for key in path)


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass(frozen=True)
class Mutation:
    base: str
    what: str
    path: Path
    must_fail: bool
    data: dict[str, Any]

    @property
    def where(self) -> str:
        return dotted(self.path)


WRONG_TYPES = st.sampled_from(
    [
        "not a number",
        "",
        [],
        [1, "a"],
        {},
        {"nested": {"x": 1}},
        dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        dt.date(2026, 1, 1),
        dt.time(12, 30),
    ]
)
ODD_NUMBERS = st.one_of(
    st.sampled_from([0, -1, 0.0, -0.0, -1e-9, 1e300, -1e300, 10**30, -(10**30), 2**63, 1e-300]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(min_value=-(2**64), max_value=2**64),
)
NON_FINITE = st.sampled_from([math.nan, math.inf, -math.inf])
NON_FINITE_TEXT = st.sampled_from(["nan", "inf", "-inf", "Infinity", "NaN"])


@st.composite
def mutations(draw: st.DrawFn) -> Mutation:
    """One mutation of one base config (the bases are never modified)."""
    base = draw(st.sampled_from(sorted(BASES)))
    data = copy.deepcopy(BASES[base])
    path, value = draw(st.sampled_from(nodes(data)))
    parent = get(data, path[:-1])
    key = path[-1]
    model_leaf = not free_form(path)
    kind = draw(
        st.sampled_from(
            [
                "wrong_type",
                "odd_number",
                "non_finite",
                "bool_for_number",
                "unknown_key",
                "delete",
                "kind",
                "dup",
            ]
        )
    )
    if kind == "wrong_type":
        parent[key] = draw(WRONG_TYPES)
        # A number's slot never takes text, a table, a list or a date (ccxt options are free-form).
        return Mutation(base, f"{key} = {parent[key]!r}", path, model_leaf and is_number(value), data)
    if kind == "odd_number":
        parent[key] = draw(ODD_NUMBERS)
        return Mutation(base, f"{key} = {parent[key]!r}", path, False, data)
    if kind == "non_finite":
        bad = draw(st.one_of(NON_FINITE, NON_FINITE_TEXT)) if is_number(value) else draw(NON_FINITE)
        parent[key] = bad
        # A NaN/inf float is refused anywhere; the text "nan" only where a number is expected.
        return Mutation(base, f"{key} = {bad!r}", path, isinstance(bad, float) or model_leaf, data)
    if kind == "bool_for_number":
        parent[key] = draw(st.booleans()) if is_number(value) else draw(st.sampled_from([0, 1]))
        must_fail = model_leaf and (is_number(value) or isinstance(value, bool))
        return Mutation(base, f"{key} = {parent[key]!r}", path, must_fail, data)
    if kind == "unknown_key":
        tables = [(p, v) for p, v in nodes(data) if isinstance(v, dict) and not free_form(p)]
        tables.append(((), data))
        where, table = draw(st.sampled_from(tables))
        name = draw(st.sampled_from(["colour", "half_spread", "Kind", "venue name", "x.y", "ñ"]))
        if name in table:
            return Mutation(base, "no-op", where, False, data)
        table[name] = draw(st.one_of(st.integers(), st.text(max_size=5), st.just({"a": 1})))
        # A new key in [venues]/[strategies] is a new (incomplete) venue/strategy: refused too.
        return Mutation(base, f"unknown key {name!r}", (*where, name), True, data)
    if kind == "delete":
        del parent[key]
        must_fail = path in {("venues",), ("markets",), ("strategies",)} or key in {"kind", "symbol", "venue"}
        return Mutation(base, f"deleted {key}", path, must_fail and model_leaf, data)
    if kind == "kind":
        tables = [p for p, v in nodes(data) if isinstance(v, dict) and "kind" in v]
        where = draw(st.sampled_from(tables))
        get(data, where)["kind"] = draw(
            st.sampled_from(["martingale", "", "MOCK", 3, None, "ccxt", "glft", "mock"])
        )
        changed = get(data, where)["kind"] != get(BASES[base], where)["kind"]
        return Mutation(base, f"kind = {get(data, where)['kind']!r}", (*where, "kind"), changed, data)
    # dup: a market listed twice, on the bot or on a mock venue.
    lists = [p for p, v in nodes(data) if p and p[-1] == "markets" and isinstance(v, list) and v]
    where = draw(st.sampled_from(lists))
    items = get(data, where)
    index = draw(st.integers(0, len(items) - 1))
    items.append(copy.deepcopy(items[index]))
    must_fail = isinstance(items[index], dict)  # [[markets]] or a mock venue's [[markets]]
    return Mutation(base, f"duplicated {dotted((*where, index))}", where, must_fail, data)


def parse_path(text: str) -> Path:
    """The keys of a dotted path as ConfigError writes it (quoted keys, [index])."""
    keys: list[int | str] = []
    i = 0
    while i < len(text):
        if text[i] == ".":
            i += 1
        elif text[i] == "[":
            end = text.index("]", i)
            keys.append(int(text[i + 1 : end]))
            i = end + 1
        elif text[i] == '"':
            end = i + 1
            while text[end] != '"':
                end += 2 if text[end] == "\\" else 1
            keys.append(text[i + 1 : end].replace('\\"', '"'))
            i = end + 1
        else:
            end = i
            while end < len(text) and text[end] not in ".[":
                end += 1
            keys.append(text[i:end])
            i = end
    return tuple(keys)


def resolves(data: Any, path: Path) -> bool:
    """The path names something in `data`, or a missing key of a table that exists."""
    try:
        parent = get(data, path[:-1])
    except (KeyError, IndexError, TypeError):
        return False
    return isinstance(parent, dict | list)
