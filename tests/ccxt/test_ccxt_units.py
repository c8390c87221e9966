"""Pure pieces of the ccxt adapter: precision, URL rewriting, params, error mapping, pacing."""

from __future__ import annotations

import asyncio
import random
from decimal import Decimal

import ccxt
import pytest
from pydantic import ValidationError

from bot.core.backoff import Backoff
from bot.core.clock import LoopClock, run_simulated
from connectors.base import (
    AuthError,
    InsufficientBalance,
    OrderNotFound,
    OrderRejected,
    PostOnlyWouldCross,
    RateLimited,
    VenueError,
    VenueUnavailable,
)
from connectors.ccxt.convert import grid_units, precision_step, to_market
from connectors.ccxt.errors import map_ccxt_error, retry_after_s
from connectors.ccxt.pacing import OrderBudget
from connectors.ccxt.params import CcxtVenueParams
from connectors.ccxt.session import read_credentials
from connectors.ccxt.urls import rewrite_api_urls


def test_precision_tick_size_mode_is_exact_decimal():
    assert precision_step(0.1, ccxt.TICK_SIZE) == Decimal("0.1")
    assert precision_step(1e-08, ccxt.TICK_SIZE) == Decimal("0.00000001")
    assert precision_step("0.00010000", ccxt.TICK_SIZE) == Decimal("0.0001")
    assert precision_step(5.0, ccxt.TICK_SIZE) == Decimal("5")
    assert str(precision_step(10.0, ccxt.TICK_SIZE)) == "10"  # not 1E+1


def test_precision_decimal_places_and_significant_digits():
    assert precision_step(2, ccxt.DECIMAL_PLACES) == Decimal("0.01")
    assert precision_step(8.0, ccxt.DECIMAL_PLACES) == Decimal("0.00000001")
    assert precision_step(0, ccxt.DECIMAL_PLACES) == Decimal("1")
    assert precision_step(5, ccxt.SIGNIFICANT_DIGITS) is None
    assert precision_step(None, ccxt.TICK_SIZE) is None


def test_to_market_from_a_ccxt_market_structure():
    raw = {
        "symbol": "ETH/BTC",
        "base": "ETH",
        "quote": "BTC",
        "precision": {"price": 5, "amount": 4},
        "limits": {"cost": {"min": 0.0001}},
        "maker": 0.00075,
        "taker": 0.001,
    }
    market = to_market("x", raw, ccxt.DECIMAL_PLACES)
    assert market is not None
    assert (market.tick_size, market.lot_size) == (Decimal("0.00001"), Decimal("0.0001"))
    assert market.min_notional == Decimal("0.0001")
    assert (market.maker_fee_bps, market.taker_fee_bps) == (Decimal("7.5"), Decimal("10"))
    assert to_market("x", {**raw, "precision": {"price": 3}}, ccxt.SIGNIFICANT_DIGITS) is None


def test_grid_units_recover_ticks_without_float_drift():
    # 0.1 + 0.2 style floats: the venue's decimal string comes back through repr.
    assert grid_units(60000.3, Decimal("0.1")) == 600003
    assert grid_units(0.29999999999999999, Decimal("0.01")) == 30
    assert grid_units("0.00012", Decimal("0.00001")) == 12


def test_rewrite_api_urls_keeps_paths_and_maps_ws_schemes():
    api = {
        "public": "https://api.binance.com/api/v3",
        "ws": {
            "spot": "wss://stream.binance.com:9443/ws",
            "ws-api": {"spot": "wss://ws-api.binance.com:443/ws-api/v3"},
        },
        "list": ["https://a.example/x?y=1"],
        "other": 5,
    }
    out = rewrite_api_urls(api, "http://127.0.0.1:8765")
    assert out["public"] == "http://127.0.0.1:8765/api/v3"
    assert out["ws"]["spot"] == "ws://127.0.0.1:8765/ws"
    assert out["ws"]["ws-api"]["spot"] == "ws://127.0.0.1:8765/ws-api/v3"
    assert out["list"] == ["http://127.0.0.1:8765/x?y=1"]
    assert out["other"] == 5
    assert api["public"] == "https://api.binance.com/api/v3"  # a copy, the input is untouched
    assert rewrite_api_urls(api, "https://proxy.local")["ws"]["spot"] == "wss://proxy.local/ws"


@pytest.mark.parametrize(
    ("field", "value", "needle"),
    [
        ("exchange", "not-an-exchange", "not a ccxt exchange id"),
        ("api_key_env", "MY-KEY", "NAME of an environment variable"),
        ("urls", "127.0.0.1:8765", "base URL"),
        ("urls", "http://127.0.0.1:8765/api/v3", "scheme://host"),
        ("stale_book_s", 0, "greater than 0"),
        ("api_secret", "x", "Extra inputs are not permitted"),
    ],
)
def test_params_reject_bad_fields_naming_them(field, value, needle):
    with pytest.raises(ValidationError) as info:
        CcxtVenueParams(**{"exchange": "binance", field: value})
    error = info.value.errors()[0]
    assert error["loc"] == (field,)
    assert needle in error["msg"]


def test_params_defaults_and_normalised_url():
    params = CcxtVenueParams(exchange="binance", urls="http://127.0.0.1:9/", sandbox=True)
    assert params.kind == "ccxt"
    assert params.urls == "http://127.0.0.1:9"
    assert params.sandbox is True


def test_missing_credential_env_var_names_the_variable(monkeypatch):
    monkeypatch.delenv("MMBOT_NO_SUCH_KEY", raising=False)
    params = CcxtVenueParams(
        exchange="binance", api_key_env="MMBOT_NO_SUCH_KEY", secret_env="MMBOT_NO_SUCH_KEY"
    )
    with pytest.raises(AuthError, match=r"MMBOT_NO_SUCH_KEY \(venues\.bn\.api_key_env\) is not set"):
        read_credentials("bn", params)
    monkeypatch.setenv("MMBOT_K", "abc")
    with pytest.raises(AuthError, match="given together"):
        read_credentials("bn", CcxtVenueParams(exchange="binance", api_key_env="MMBOT_K"))


@pytest.mark.parametrize(
    ("exc", "expected", "retryable", "not_executed"),
    [
        (ccxt.InsufficientFunds("x"), InsufficientBalance, False, True),
        (ccxt.OrderImmediatelyFillable("x"), PostOnlyWouldCross, False, True),
        (ccxt.OrderNotFound("x"), OrderNotFound, False, True),
        (ccxt.AuthenticationError("x"), AuthError, False, True),
        (ccxt.PermissionDenied("x"), AuthError, False, True),
        (ccxt.NetworkError("x"), VenueUnavailable, True, False),
        (ccxt.RequestTimeout("x"), VenueUnavailable, True, False),
        (ccxt.ExchangeNotAvailable("x"), VenueUnavailable, True, False),
        (ccxt.OperationFailed("x"), VenueUnavailable, True, False),
        (ccxt.RateLimitExceeded("x"), RateLimited, True, True),
        (ccxt.DDoSProtection("x"), RateLimited, True, True),
        (ccxt.InvalidNonce("x"), VenueUnavailable, True, True),
        (ccxt.InvalidOrder("x"), OrderRejected, False, True),
        (ccxt.BadSymbol("x"), VenueError, False, True),
    ],
)
def test_ccxt_exceptions_map_to_our_errors(exc, expected, retryable, not_executed):
    mapped = map_ccxt_error("bn", exc, "call")
    assert type(mapped.error) is expected
    assert (mapped.retryable, mapped.not_executed) == (retryable, not_executed)
    assert mapped.error.venue == "bn"
    assert type(exc).__name__ in str(mapped.error)


def test_http_status_overrides_the_class():
    # Binance's -1001 "internal error" comes back as a plain ExchangeError: a 5xx is still unknown.
    mapped = map_ccxt_error("bn", ccxt.ExchangeError("x"), "create", is_create=True, http_status=503)
    assert type(mapped.error) is VenueUnavailable and not mapped.not_executed
    rejected = map_ccxt_error("bn", ccxt.ExchangeError("x"), "create", is_create=True, http_status=400)
    assert type(rejected.error) is OrderRejected
    limited = map_ccxt_error(
        "bn", ccxt.ExchangeError("x"), "q", http_status=429, headers={"retry-after": "3"}
    )
    assert isinstance(limited.error, RateLimited) and limited.error.retry_after_s == 3.0


def test_retry_after_parsing():
    assert retry_after_s({"Retry-After": "2.5"}) == 2.5
    assert retry_after_s({"Retry-After": "soon"}) is None
    assert retry_after_s({}) is None
    assert retry_after_s({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0  # in the past


def test_backoff_grows_with_jitter_and_honours_retry_after():
    backoff = Backoff(0.1, 1.0, random.Random(7))
    delays = [backoff.delay_s(n) for n in range(6)]
    for n, delay in enumerate(delays):
        ceiling = min(1.0, 0.1 * 2**n)
        assert ceiling / 2 <= delay <= ceiling
    assert backoff.delay_s(0, retry_after_s=4.0) == 4.0


def test_order_budget_paces_on_the_injected_clock():
    async def scenario() -> tuple[float, float]:
        loop = asyncio.get_running_loop()
        budget = OrderBudget(LoopClock(epoch_ns=0), rate_per_s=10, burst=5)
        start = loop.time()
        for _ in range(25):
            await budget.acquire()
        return loop.time() - start, budget.waited_s

    elapsed, waited = run_simulated(scenario)
    # 5 from the burst, then 20 at 10 per second: 2.0 s of virtual time.
    assert elapsed == pytest.approx(2.0, abs=1e-6)
    assert waited == pytest.approx(2.0, abs=1e-6)
