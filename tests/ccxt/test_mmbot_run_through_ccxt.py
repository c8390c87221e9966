"""`mmbot run` trading through real ccxt against `mmbot mock-exchange`, both as real processes."""

import asyncio
import re
import subprocess
import sys

import ccxt.async_support as ccxt_async
import pytest
import tomli_w

from bot.kernel.store import Store
from tests.kit import child_env

KEY, SECRET = "e2e-test-key-0123", "e2e-test-secret-4567"
OPTIONS = {"fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False, "fetchMargins": False}


def bot_config(url: str) -> dict:
    return {
        "bot": {
            "instance_id": "e2e",
            "database_url": "sqlite:///bot.sqlite",
            "log_format": "json",
            "summary_interval_s": 5,
        },
        "venues": {
            "fx": {
                "kind": "ccxt",
                "exchange": "binance",
                "urls": url,
                "options": OPTIONS,
                "api_key_env": "E2E_KEY",
                "secret_env": "E2E_SECRET",
                "maker_fee_bps": "1",
                "taker_fee_bps": "5",
                "rate_limit_ms": 1,
            }
        },
        "markets": [
            {"venue": "fx", "symbol": "BTC/USDT", "order_size": "0.005", "max_position": "0.1"},
            {"venue": "fx", "symbol": "ETH/USDT", "order_size": "0.1", "max_position": "2"},
        ],
        "strategies": {
            "mm": {
                "kind": "fixed_spread",
                "markets": ["fx:BTC/USDT", "fx:ETH/USDT"],
                "half_spread_bps": 2,
                "n_levels": 2,
                "level_spacing_bps": 2,
                "refresh_tolerance_bps": 1.5,
                "min_requote_interval_ms": 250,
            }
        },
    }


async def open_orders_on_facade(url: str) -> list[dict]:
    exchange = ccxt_async.binance({"apiKey": KEY, "secret": SECRET, "options": dict(OPTIONS)})
    for key, value in list(exchange.urls["api"].items()):
        if isinstance(value, str) and value.startswith("https://"):
            exchange.urls["api"][key] = re.sub(r"^https://[^/]+", url, value)
    try:
        return [o for symbol in ("BTC/USDT", "ETH/USDT") for o in await exchange.fetch_open_orders(symbol)]
    finally:
        await exchange.close()


@pytest.mark.slow
def test_mmbot_run_through_ccxt_quotes_fills_and_stops_clean(tmp_path):
    facade = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bot.cli",
            "mock-exchange",
            "--port",
            "0",
            "--api-key",
            KEY,
            "--api-secret",
            SECRET,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
    )
    try:
        first = facade.stdout.readline()
        url = re.search(r"(http://127\.0\.0\.1:\d+)", first).group(1)
        config_path = tmp_path / "bot.toml"
        config_path.write_text(tomli_w.dumps(bot_config(url)))
        env = child_env(E2E_KEY=KEY, E2E_SECRET=SECRET)
        run = subprocess.run(
            [sys.executable, "-m", "bot.cli", "run", "--config", str(config_path), "--duration", "20"],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=120,
        )
        assert run.returncode == 0, run.stderr[-3000:]
        assert '"msg": "stopped: 0 open orders left' in run.stderr
        assert KEY not in run.stderr and SECRET not in run.stderr
        store = Store(f"sqlite:///{tmp_path}/bot.sqlite")
        fills = store.fills("fx")
        assert len(fills) >= 3, f"only {len(fills)} fills in 20 s"
        assert len({(f.symbol, f.venue_trade_id) for f in fills}) == len(fills)
        assert store.open_orders() == []
        left = [o for o in asyncio.run(open_orders_on_facade(url)) if o["clientOrderId"].startswith("e2e-")]
        assert left == []
    finally:
        facade.terminate()
        facade.wait(timeout=10)
