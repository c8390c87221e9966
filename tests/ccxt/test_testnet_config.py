"""config.testnet.toml: its venue tables are valid CcxtVenueParams and sandbox mode is wired."""

from __future__ import annotations

import tomllib
from pathlib import Path

from connectors.ccxt.params import CcxtVenueParams
from connectors.ccxt.session import build_exchange

CONFIG = Path(__file__).resolve().parents[2] / "config.testnet.toml"


def test_testnet_config_venues_validate_and_use_the_testnet(monkeypatch):
    data = tomllib.loads(CONFIG.read_text(encoding="utf-8"))
    venues = {name: CcxtVenueParams.model_validate(table) for name, table in data["venues"].items()}
    assert list(venues) == ["binance_test"]
    params = venues["binance_test"]
    assert (params.exchange, params.sandbox, params.urls) == ("binance", True, None)
    assert {m["venue"] for m in data["markets"]} == {"binance_test"}
    # No secret values in the file: only the names of the variables holding them.
    assert params.api_key_env == "BINANCE_TESTNET_KEY" and params.secret_env == "BINANCE_TESTNET_SECRET"

    monkeypatch.setenv("BINANCE_TESTNET_KEY", "k")
    monkeypatch.setenv("BINANCE_TESTNET_SECRET", "s")
    exchange = build_exchange("binance_test", params)  # builds only: no request is made
    assert exchange.urls["api"]["public"].startswith("https://testnet.binance.vision/")
    assert exchange.urls["api"]["ws"]["spot"].startswith("wss://stream.testnet.binance.vision")
    assert exchange.options["fetchMarkets"]["types"] == ["spot"]
    assert exchange.enableRateLimit is True

    local = params.model_copy(update={"sandbox": False, "urls": "http://127.0.0.1:8765"})
    exchange = build_exchange("binance_test", local)
    assert exchange.urls["api"]["public"] == "http://127.0.0.1:8765/api/v3"
    assert exchange.urls["api"]["ws"]["ws-api"]["spot"] == "ws://127.0.0.1:8765/ws-api/v3"
