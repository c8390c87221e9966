"""XEMM in a real `mmbot run` process, trading through real ccxt against two in-process facades.

Maker venue "va" (its background book 30 bps wide, so XEMM's quote is the best price and the
kit's takers hit it), taker venue "vb" (a deep book). The bot process runs the code of `tree`
(this checkout by default, or an older one unpacked elsewhere: benchmarks/xemm_faults.py), the
facades and the measurement always this checkout's: the same venue for every tree.

Timed faults, one phase each, in one session:
- "restart": the maker's user stream goes silent, a maker fill, the bot SIGKILLed 0.2 s later and
  restarted (its start-up reconciliation stores the fill);
- "taker_503": the taker venue answers 503 to every signed call (half of them after executing)
  and its user stream is silent for `fault_s`, while a maker fill comes every 0.6 s;
- "taker_down" (benchmark only, 12 s): every new taker order answered 503 before it executes;
- "sub_lot" (a session with a taker lot of 0.002): maker fills of 0.001 each, no fault;
- "taker_refuses": every send of the next hedge orders answered 503 before it executes (the
  bot learns from the venue that they never reached it: rejected), a maker fill.
Maker fills take our best maker order, bid or ask: opposite fills net each other.

The truth is the venues' own fills: net base across both (sampled every 20 ms), hedge delays
matched first in, first out, taker orders per maker fill.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sqlite3
import time
import urllib.request
from contextlib import closing
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import tomli_w
from prometheus_client.parser import text_string_to_metric_families

from bot.core.domain import Fill, Side
from connectors.mock.facade import FacadeHandle, serve_facade
from connectors.mock.params import MockVenueParams
from connectors.mock.venue import DEFAULT_ACCOUNT
from tests.reliability.procs import KEY, KEY_ENV, SECRET, SECRET_ENV, PreparedBot, bot_config

LOT = Decimal("0.001")
OPS_TOKEN_ENV, OPS_TOKEN = "XF_OPS_TOKEN", "xf-test-token"  # the kit resumes after an escalation
ORDER_LOTS = 2  # XEMM's maker quote, 0.002 BTC
PREFIX = "xf-"  # client order ids of instance "xf"
SYMBOL = "BTC/USDT"
CREATE_SENDS = 5  # the ccxt adapter's sends of one create that never reached the venue (1 + max_retries)


def venue_params(seed: int, maker: bool, lot: Decimal = LOT) -> MockVenueParams:
    market: dict[str, Any] = {
        "symbol": SYMBOL, "tick_size": "0.1", "lot_size": str(lot), "initial_price": "60000",
        "maker_fee_bps": "1", "taker_fee_bps": "5", "volatility_annual": 0.2,
        "noise_taker_rate_per_s": 0.0 if maker else 0.5, "noise_taker_size_lots": 3.0,
        "informed_taker_rate_per_s": 0.0, "book_spread_bps": 30.0 if maker else 2.0,
    }  # fmt: skip
    return MockVenueParams.model_validate(
        {
            "kind": "mock",
            "seed": seed + (0 if maker else 1000),
            "book_publish_interval_ms": 50,
            "initial_balances": {"USDT": "1000000", "BTC": "10"},
            "markets": [market],
        }
    )


def write_config(workdir: Path, maker: FacadeHandle, taker: FacadeHandle, xemm: dict[str, Any]) -> Path:
    data = bot_config(maker.url, instance_id="xf", reconcile_interval_s=30)
    venue = data["venues"].pop("fx")
    data["venues"] = {"va": venue, "vb": {**venue, "urls": taker.url}}
    data["bot"]["database_url"] = f"sqlite:///{workdir}/bot.sqlite"
    data["bot"]["ops"] = {"port": 0, "token_env": OPS_TOKEN_ENV}
    data["markets"] = [
        {"venue": v, "symbol": SYMBOL, "order_size": str(LOT * ORDER_LOTS), "max_position": "0.1"}
        for v in ("va", "vb")
    ]
    data["strategies"] = {
        "x": {
            "kind": "xemm",
            "maker_markets": [f"va:{SYMBOL}"],
            "taker_market": f"vb:{SYMBOL}",
            "min_profitability_bps": 2,
            "hedge_max_slippage_bps": 20,
            **xemm,
        }
    }
    path = workdir / "bot.toml"
    path.write_text(tomli_w.dumps(data))
    return path


@dataclass
class Phase:
    """What one fault phase did to the true position (both venues' own fills)."""

    name: str
    started_ns: int = 0
    maker_fills: int = 0
    taker_orders_sent: int = 0  # hedge orders the bot stored for this phase's maker fills
    taker_orders_filled: int = 0  # distinct taker orders with fills on the venue
    taker_orders_rejected: int = 0  # hedge orders the bot stored as rejected
    net_max: Decimal = Decimal(0)
    net_end: Decimal = Decimal(0)
    delays_s: list[float] = field(default_factory=list)
    unhedged: int = 0  # maker fills whose hedge never came
    naked_s: list[float] = field(default_factory=list)  # intervals at one lot or more
    # the phase's first hedge order, stored this long after its first maker fill (the bot's own
    # times: it checks the naked age just before it stores and sends a hedge)
    first_hedge_after_s: float | None = None
    alerts: int = 0
    note: str = ""


class Session:
    def __init__(
        self,
        workdir: Path,
        tree: Path,
        seed: int,
        xemm: dict[str, Any] | None = None,
        taker_lot: Decimal = LOT,
    ) -> None:
        self.workdir, self.tree, self.seed, self.xemm = workdir, tree, seed, xemm or {}
        self.taker_lot = taker_lot  # "within one lot": the taker's, the smallest hedge there is
        self.log_path = workdir / "bot.log"
        self.bots_started = 0
        self._naked_since: float | None = None
        self.phase: Phase | None = None

    async def __aenter__(self) -> Session:
        self.maker = await serve_facade("127.0.0.1", 0, venue_params(self.seed, True), KEY, SECRET)
        self.taker = await serve_facade(
            "127.0.0.1", 0, venue_params(self.seed, False, self.taker_lot), KEY, SECRET
        )
        self.config_path = write_config(self.workdir, self.maker, self.taker, self.xemm)
        self.prepared = self._prepare()
        self.bot = self._start()
        self._sampler = asyncio.create_task(self._sample())
        await self.until("XEMM's maker quote", lambda: bool(self.our_maker_orders()), 40)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._sampler.cancel()
        if self.bot.poll() is None:
            self.bot.send_signal(signal.SIGTERM)
            await asyncio.to_thread(self.bot.wait, 30)
        self.prepared.discard()
        await self.maker.stop()
        await self.taker.stop()

    # ---- processes ---------------------------------------------------------------------------

    def _prepare(self) -> PreparedBot:
        env = dict(os.environ, **{KEY_ENV: KEY, SECRET_ENV: SECRET, OPS_TOKEN_ENV: OPS_TOKEN})
        env["PYTHONPATH"] = str(self.tree)
        return PreparedBot(["run", "--config", str(self.config_path)], self.workdir, self.log_path, env)

    def _start(self) -> Any:
        proc = self.prepared.start()
        self.prepared = self._prepare()  # the next start's imports overlap this run
        self.bots_started += 1
        return proc

    async def until(self, what: str, predicate: Any, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while not predicate():
            if self.bot.poll() is not None:
                raise AssertionError(f"bot exited {self.bot.returncode} before {what}: {self.log_tail()}")
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.05)
        return True

    def _ops_url(self, path: str) -> str:
        """The running bot's ops endpoint listens on the port of 127.0.0.1 its (latest) log line names."""
        ports = re.findall(r"ops endpoint on http://127\.0\.0\.1:(\d+)", self.log_path.read_text())
        return f"http://127.0.0.1:{ports[-1]}{path}"

    async def resume(self) -> None:
        """What the operator does after an escalation: resume every market a strategy paused."""
        ask = urllib.request.Request(
            self._ops_url("/resume"), method="POST", headers={"Authorization": f"Bearer {OPS_TOKEN}"}
        )

        def post() -> None:
            with urllib.request.urlopen(ask, timeout=5) as answer:
                answer.read()

        await asyncio.to_thread(post)

    async def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        """The running bot's /metrics samples, by (name, sorted labels)."""
        url = self._ops_url("/metrics")

        def scrape() -> str:
            with urllib.request.urlopen(url, timeout=5) as answer:
                return str(answer.read().decode())

        text = await asyncio.to_thread(scrape)
        return {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
        }

    def log_tail(self) -> str:
        return self.log_path.read_text()[-3000:] if self.log_path.exists() else ""

    # ---- the truth ---------------------------------------------------------------------------

    def our_maker_orders(self) -> list[Any]:
        orders = self.maker.exchange.open_orders(DEFAULT_ACCOUNT, SYMBOL)
        return [o for o in orders if o.client_order_id.startswith(PREFIX)]

    def net_base(self) -> Decimal:
        maker = signed_base(self.maker.exchange.fills(DEFAULT_ACCOUNT))
        return maker + signed_base(self.taker.exchange.fills(DEFAULT_ACCOUNT), self.taker_lot)

    async def _sample(self) -> None:
        while True:
            net, now = abs(self.net_base()), time.monotonic()
            if self.phase is not None:
                self.phase.net_max = max(self.phase.net_max, net)
                if net >= self.taker_lot and self._naked_since is None:
                    self._naked_since = now
                elif net < self.taker_lot and self._naked_since is not None:
                    self.phase.naked_s.append(now - self._naked_since)
                    self._naked_since = None
            await asyncio.sleep(0.02)

    async def fill_maker(self, lots: int | None = None, wait_s: float = 2.0) -> bool:
        """A taker trades `lots` (default: all) of our best maker order (ours is the best price:
        the book is wide); waits up to `wait_s` for a quote to take (one being replaced)."""
        deadline = time.monotonic() + wait_s
        while True:
            orders = self.our_maker_orders()
            if orders:
                order = orders[0]
                taker = Side.SELL if order.side is Side.BUY else Side.BUY
                size = min(lots or order.size_lots, order.size_lots - order.filled_lots)
                now_ns = self.maker.core.now_ns()
                if self.maker.exchange.background_take(SYMBOL, taker, size, now_ns, order.price_ticks):
                    return True
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.05)

    # ---- phases ------------------------------------------------------------------------------

    async def restart_after_fill(self) -> Phase:
        phase = self._begin("restart")
        self.maker.faults.freeze_user = True  # the bot learns of the fill only from REST
        await self.fill_maker()
        await asyncio.sleep(0.2)
        self.bot.send_signal(signal.SIGKILL)
        await asyncio.to_thread(self.bot.wait)
        self.maker.faults.freeze_user = False
        self.bot = self._start()
        await self.until("the restarted bot's maker quote", lambda: bool(self.our_maker_orders()), 30)
        phase = await self._end(phase, settle_s=4.0)
        if phase.alerts:  # the fill was naked beyond the bound across the restart: makers paused
            await self.resume()
        return phase

    async def taker_503(self, fault_s: float = 3.0, fills_every_s: float = 0.6) -> Phase:
        phase = self._begin("taker_503")
        await self.fill_maker()
        await asyncio.sleep(0.2)
        faults = self.taker.faults
        faults.error_rate, faults.freeze_user = 1.0, True
        ends = time.monotonic() + fault_s
        while time.monotonic() < ends:
            await asyncio.sleep(fills_every_s)
            await self.fill_maker(wait_s=0)  # none while the bot holds its quotes back
        faults.error_rate, faults.freeze_user = 0.0, False
        return await self._end(phase, settle_s=5.0)

    async def taker_rejects(self, fault_s: float = 12.0) -> Phase:
        """Every new taker order answered 503 before it executes for `fault_s` (longer than the
        default escalation bound, 10 s), a maker fill at its start."""
        phase = self._begin("taker_down")
        self.taker.faults.fail_path, self.taker.faults.fail_method = "/api/v3/order", "POST"
        self.taker.faults.fail_before_next = 1_000_000
        await self.fill_maker()
        await asyncio.sleep(fault_s)
        self.taker.faults.fail_before_next = 0
        return await self._end(phase, settle_s=6.0)

    async def sub_lot_fills(self, fills: int = 8, every_s: float = 0.5) -> Phase:
        """Maker fills of one maker lot each, half the taker's lot: hedged only in pairs."""
        phase = self._begin("sub_lot")
        for _ in range(fills):
            await self.fill_maker(lots=1)
            await asyncio.sleep(every_s)
        return await self._end(phase, settle_s=3.0)

    async def taker_refuses(self, orders: int) -> Phase:
        """Every send of the next `orders` hedge orders answered 503 before it executes (the bot's
        lookup finds they never reached the venue: rejected), then a maker fill."""
        phase = self._begin("taker_refuses")
        self.taker.faults.fail_path, self.taker.faults.fail_method = "/api/v3/order", "POST"
        self.taker.faults.fail_before_next = orders * CREATE_SENDS
        await self.fill_maker()
        return await self._end(phase, settle_s=5.0)

    def _begin(self, name: str) -> Phase:
        self.phase = Phase(name, started_ns=self.maker.core.now_ns())
        return self.phase

    async def _end(self, phase: Phase, settle_s: float) -> Phase:
        """Wait up to `settle_s` for the net position to come back within one lot, then measure."""
        await self.until("", lambda: abs(self.net_base()) < self.taker_lot, settle_s)
        await asyncio.sleep(0.3)
        self.phase = None
        if self._naked_since is not None:
            phase.naked_s.append(time.monotonic() - self._naked_since)
            self._naked_since = None
        phase.net_end = self.net_base()
        maker = self.maker.exchange.fills(DEFAULT_ACCOUNT, since_ns=phase.started_ns)
        taker = self.taker.exchange.fills(DEFAULT_ACCOUNT, since_ns=phase.started_ns)
        phase.maker_fills = len(maker)
        phase.taker_orders_filled = len({f.venue_order_id for f in taker})
        phase.delays_s, phase.unhedged = hedge_delays(maker, taker, self.taker_lot)
        phase.taker_orders_sent = self._stored_count(
            "SELECT COUNT(*) FROM orders WHERE venue = 'vb' AND created_ns >= ?", phase.started_ns
        )
        phase.alerts = self._stored_count(
            "SELECT COUNT(*) FROM events WHERE kind = 'alert' AND ts_ns >= ?", phase.started_ns
        )
        first_fill = self._stored_count(
            "SELECT COALESCE(MIN(exchange_ts_ns), 0) FROM fills WHERE venue = 'va' AND exchange_ts_ns >= ?",
            phase.started_ns // 1_000_000 * 1_000_000,  # venue times are in ms
        )
        first_hedge = self._stored_count(
            "SELECT COALESCE(MIN(created_ns), 0) FROM xemm_hedge_orders WHERE created_ns >= ?",
            phase.started_ns,
        )
        if first_fill and first_hedge:
            phase.first_hedge_after_s = (first_hedge - first_fill) / 1e9
        phase.taker_orders_rejected = self._stored_count(
            "SELECT COUNT(*) FROM orders WHERE venue = 'vb' AND state = 'rejected' AND created_ns >= ?",
            phase.started_ns,
        )
        return phase

    async def until_settled(self, timeout_s: float) -> bool:
        """Until the bot's store has no open obligation and no hedge order of unknown outcome
        (the venue's answers can come after the position is flat: a hedge executed, its answer lost)."""
        open_rows = (
            "SELECT (SELECT COUNT(*) FROM xemm_round_trips WHERE status = 'pending')"
            " + (SELECT COUNT(*) FROM xemm_hedge_orders WHERE outcome != 'known')"
        )
        return await self.until("settled obligations", lambda: self._stored_count(open_rows) == 0, timeout_s)

    def _stored_count(self, query: str, *params: int) -> int:
        with closing(sqlite3.connect(f"file:{self.workdir}/bot.sqlite?mode=ro", uri=True, timeout=10)) as db:
            return int(db.execute(query, params).fetchone()[0])


def signed_base(fills: list[Fill], lot: Decimal = LOT) -> Decimal:
    """Base bought minus sold, on a venue of lot `lot`."""
    return sum((f.side.sign * f.size_lots * lot for f in fills), Decimal(0))


def hedge_delays(maker: list[Fill], taker: list[Fill], taker_lot: Decimal) -> tuple[list[float], int]:
    """Each maker fill's hedge delay: from it until the true net position (both venues' fills in
    time order) is next within one taker lot (0 if it never left: netted by an opposite maker
    fill, or a sub-lot residual); and how many maker fills it never came back for."""
    flows = sorted(
        [(f.exchange_ts_ns, f.side.sign * f.size_lots * LOT, True) for f in maker]
        + [(f.exchange_ts_ns, f.side.sign * f.size_lots * taker_lot, False) for f in taker]
    )
    net, waiting, delays = Decimal(0), [], []
    for ts, base, is_maker in flows:
        net += base
        if is_maker:
            waiting.append(ts)
        if abs(net) < taker_lot:
            delays += [(ts - since) / 1e9 for since in waiting]
            waiting = []
    return delays, len(waiting)
