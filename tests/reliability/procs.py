"""Real processes for reliability tests: `mmbot mock-exchange` and `mmbot run`, plus a ccxt view of the venue.

The venue view is ccxt's own synchronous binance class pointed at the facade: what the exchange
says, independent of anything the bot stored. A bot process can be prepared ahead of its start
(`prepare_bot`): its imports, seconds of CPU, then overlap the previous run of a restart test.
"""

from __future__ import annotations

import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import closing
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import ccxt
import tomli_w

from connectors.ccxt.urls import rewrite_api_urls
from tests.kit import child_env

KEY, SECRET = "crash-test-key-0123", "crash-test-secret-4567"
KEY_ENV, SECRET_ENV = "CRASH_KEY", "CRASH_SECRET"
# A second account on the same facade (FacadeProcess(second_account=True)): a bot trades on it with
# bot_config(url, api_key_env=KEY_B_ENV, secret_env=SECRET_B_ENV) and bot_env(**ACCOUNT_B_ENV).
KEY_B, SECRET_B = "crash-test-key-b-89ab", "crash-test-secret-b-cdef"
KEY_B_ENV, SECRET_B_ENV = "CRASH_KEY_B", "CRASH_SECRET_B"
ACCOUNT_B_ENV = {KEY_B_ENV: KEY_B, SECRET_B_ENV: SECRET_B}
OPTIONS = {"fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False, "fetchMargins": False}
SYMBOLS = ("BTC/USDT", "ETH/USDT")
INITIAL_BALANCES = {"USDT": Decimal("1000000"), "BTC": Decimal("10"), "ETH": Decimal("200")}
T = TypeVar("T")


def facade_config(seed: int = 5, taker_rate_per_s: float = 3.0) -> dict[str, Any]:
    """A busy mock venue: takers often enough that our quotes fill every few seconds."""
    markets = [
        ("BTC/USDT", "0.1", "0.001", "60000"),
        ("ETH/USDT", "0.01", "0.01", "3000"),
    ]
    return {
        "venues": {
            "fx": {
                "kind": "mock",
                "seed": seed,
                "book_publish_interval_ms": 50,
                "initial_balances": {k: str(v) for k, v in INITIAL_BALANCES.items()},
                "markets": [
                    {
                        "symbol": symbol,
                        "tick_size": tick,
                        "lot_size": lot,
                        "initial_price": price,
                        "maker_fee_bps": "1",
                        "taker_fee_bps": "5",
                        "noise_taker_rate_per_s": taker_rate_per_s,
                        "noise_taker_size_lots": 8.0,
                    }
                    for symbol, tick, lot, price in markets
                ],
            }
        }
    }


def bot_config(url: str, instance_id: str = "crash", **venue_overrides: Any) -> dict[str, Any]:
    venue: dict[str, Any] = {
        "kind": "ccxt",
        "exchange": "binance",
        "urls": url,
        "options": OPTIONS,
        "api_key_env": KEY_ENV,
        "secret_env": SECRET_ENV,
        "maker_fee_bps": "1",
        "taker_fee_bps": "5",
        "rate_limit_ms": 1,
        "backoff_base_s": 0.05,
        "backoff_max_s": 0.5,
        "reconcile_interval_s": 5,
    }
    venue.update(venue_overrides)
    return {
        "bot": {
            "instance_id": instance_id,
            "database_url": "sqlite:///bot.sqlite",
            "log_format": "json",
            "summary_interval_s": 5,
            "snapshot_interval_s": 5,
            "ops": {"enabled": False},  # many bots in one test run: no fixed port to fight over
        },
        "venues": {"fx": venue},
        "markets": [
            {"venue": "fx", "symbol": "BTC/USDT", "order_size": "0.005", "max_position": "0.2"},
            {"venue": "fx", "symbol": "ETH/USDT", "order_size": "0.1", "max_position": "4"},
        ],
        "strategies": {
            "mm": {
                "kind": "fixed_spread",
                "markets": ["fx:BTC/USDT", "fx:ETH/USDT"],
                "half_spread_bps": 1,
                "n_levels": 2,
                "level_spacing_bps": 2,
                "refresh_tolerance_bps": 1.0,
                "min_requote_interval_ms": 100,
            }
        },
    }


class FacadeProcess:
    """`mmbot mock-exchange` on a free port of 127.0.0.1 (with `second_account`: KEY_B's account too)."""

    def __init__(self, workdir: Path, config: dict[str, Any], second_account: bool = False) -> None:
        path = workdir / "facade.toml"
        path.write_text(tomli_w.dumps(config))
        args = ["mock-exchange", "--port", "0", "--config", str(path)]
        args += ["--api-key", KEY, "--api-secret", SECRET]
        if second_account:
            args += ["--account", f"{KEY_B_ENV}:{SECRET_B_ENV}"]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=child_env(**ACCOUNT_B_ENV) if second_account else child_env(),
        )
        first = self.proc.stdout.readline() if self.proc.stdout else ""
        found = re.search(r"(http://127\.0\.0\.1:\d+)", first)
        if found is None:
            self.stop()
            raise RuntimeError(f"mock-exchange did not start: {first!r}")
        self.url = found.group(1)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def bot_env(**extra: str) -> dict[str, str]:
    return child_env(**{KEY_ENV: KEY, SECRET_ENV: SECRET}, **extra)


def store_url(workdir: Path) -> str:
    return f"sqlite:///{workdir}/bot.sqlite"


def write_bot_toml(workdir: Path, url: str, instance_id: str = "crash", bot: dict[str, Any] | None = None,
                   **venue_overrides: Any) -> Path:  # fmt: skip
    """`bot_config` on the facade at `url`, its store `workdir`/bot.sqlite, `bot` merged into
    [bot]; written to `workdir`/bot.toml."""
    data = bot_config(url, instance_id, **venue_overrides)
    data["bot"]["database_url"] = store_url(workdir)
    data["bot"].update(bot or {})
    path = workdir / "bot.toml"
    path.write_text(tomli_w.dumps(data))
    return path


# What a prepared bot process runs: the imports `mmbot run` of a ccxt venue makes (seconds of CPU;
# module code only, nothing starts), then, on "go", exactly what `python -m bot.cli` runs: the
# module afresh as __main__ (runpy, sys.argv[0] its file). EOF instead of "go": exit, unstarted.
_PREPARED_MAIN = """
import runpy, sys
import bot.cli, bot.app.launch, connectors.ccxt.venue, ccxt.pro
del sys.modules["bot.cli"]
if sys.stdin.readline() != "go\\n":
    sys.exit(0)
runpy.run_module("bot.cli", run_name="__main__", alter_sys=True)
"""


class PreparedBot:
    """A `mmbot run` process with its imports done, waiting for `start()`."""

    def __init__(self, args: list[str], workdir: Path, log_path: Path, env: dict[str, str]) -> None:
        with log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", _PREPARED_MAIN, *args],
                cwd=workdir, env=env, stdin=subprocess.PIPE, stdout=log, stderr=log,
            )  # fmt: skip

    def start(self) -> subprocess.Popen[bytes]:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(b"go\n")
            self.proc.stdin.close()
        except BrokenPipeError:  # it died importing: the caller sees its exit code
            pass
        return self.proc

    def discard(self) -> None:
        """Never started: end it (EOF on its stdin)."""
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            self.proc.stdin.close()
        if self.proc.wait(timeout=60) != 0:
            raise AssertionError(f"an unstarted bot process exited with {self.proc.returncode}")


def prepare_bot(config_path: Path, workdir: Path, log_path: Path, env: dict[str, str] | None = None,
                duration_s: float | None = None) -> PreparedBot:  # fmt: skip
    args = ["run", "--config", str(config_path)]
    if duration_s is not None:
        args += ["--duration", str(duration_s)]
    return PreparedBot(args, workdir, log_path, env or bot_env())


def start_bot(config_path: Path, workdir: Path, log_path: Path, env: dict[str, str] | None = None,
              duration_s: float | None = None) -> subprocess.Popen[bytes]:  # fmt: skip
    return prepare_bot(config_path, workdir, log_path, env, duration_s).start()


def wait_for(what: str, predicate: Callable[[], T], proc: subprocess.Popen[bytes] | None, log_path: Path,
             timeout_s: float = 60.0) -> T:  # fmt: skip
    """`predicate()`'s first truthy value; fails at once if `proc` exits, else after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        tail = log_path.read_text()[-3000:] if log_path.exists() else ""
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"bot exited with {proc.returncode} waiting for {what}: {tail}")
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} after {timeout_s}s: {tail}")
        time.sleep(0.05)


def orders_since_start(workdir: Path, start_index: int) -> int | None:
    """Order rows created since the `start_index`-th stored start event (0-based; -1 the newest);
    None while there is no such start. Read with sqlite3 (read-only): polling never takes the
    store's own locks while the bot migrates or writes."""
    path = workdir / "bot.sqlite"
    if not path.exists():
        return None
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)) as db:
        if not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'events'").fetchone():
            return None
        starts = [r[0] for r in db.execute("SELECT ts_ns FROM events WHERE kind = 'start' ORDER BY id")]
        if not -len(starts) <= start_index < len(starts):
            return None
        query = "SELECT COUNT(*) FROM orders WHERE created_ns >= ?"
        return int(db.execute(query, (starts[start_index],)).fetchone()[0])


class VenueView:
    """The exchange's side of the truth, read through real ccxt (synchronous)."""

    def __init__(self, url: str, key: str = KEY, secret: str = SECRET) -> None:
        self.exchange = ccxt.binance({"apiKey": key, "secret": secret, "options": dict(OPTIONS)})
        self.exchange.urls["api"] = rewrite_api_urls(self.exchange.urls["api"], url)
        self.exchange.load_markets()

    def open_orders(self, prefix: str) -> dict[str, dict[str, Any]]:
        out = {}
        for symbol in SYMBOLS:
            for order in self.exchange.fetch_open_orders(symbol):
                if order["clientOrderId"].startswith(prefix):
                    out[order["clientOrderId"]] = order
        return out

    def order_status(self, symbol: str, client_order_id: str) -> str:
        order = self.exchange.fetch_order(None, symbol, {"origClientOrderId": client_order_id})
        return order["status"]

    def trades(self) -> list[dict[str, Any]]:
        """Every trade of the account, all pages, oldest first."""
        out = []
        for symbol in SYMBOLS:
            from_id = 0
            while True:
                page = self.exchange.fetch_my_trades(symbol, None, 1000, {"fromId": from_id})
                out.extend(page)
                if len(page) < 1000:
                    break
                from_id = max(int(t["id"]) for t in page) + 1
        return out

    def balances(self) -> dict[str, Decimal]:
        raw = self.exchange.fetch_balance()["info"]["balances"]
        return {b["asset"]: Decimal(b["free"]) + Decimal(b["locked"]) for b in raw}

    def locked(self) -> dict[str, Decimal]:
        raw = self.exchange.fetch_balance()["info"]["balances"]
        return {b["asset"]: Decimal(b["locked"]) for b in raw}
