"""Start and stop the Binance-compatible facade; `main(argv)` runs it from the command line."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import signal
import sys
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from connectors.mock.exchange import MockExchange
from connectors.mock.facade.auth import Credentials, KeyRing
from connectors.mock.facade.core import FacadeCore
from connectors.mock.facade.faults import Faults
from connectors.mock.facade.rest import RestApi
from connectors.mock.facade.ws import WsApi
from connectors.mock.params import FaultParams, MockVenueParams
from connectors.mock.venue import DEFAULT_ACCOUNT

API_KEY_ENV = "MMBOT_FACADE_API_KEY"
SECRET_ENV = "MMBOT_FACADE_API_SECRET"


@dataclass
class FacadeHandle:
    """A running facade: its base URL (give it to CcxtVenueParams.urls) and test controls."""

    url: str
    core: FacadeCore
    rest: RestApi
    ws: WsApi
    api_key: str
    _runner: web.AppRunner
    _stopped: bool = False

    @property
    def ws_url(self) -> str:
        return "ws" + self.url.removeprefix("http")

    @property
    def exchange(self) -> MockExchange:
        """The matching engine behind the API (inject background orders, inspect books)."""
        return self.core.exchange

    @property
    def faults(self) -> Faults:
        return self.core.faults

    @property
    def account_ids(self) -> list[str]:
        """Engine account ids served, the `api_key` one (DEFAULT_ACCOUNT) first."""
        return list(self.core.accounts)

    async def drop_streams(self) -> int:
        """Close every websocket from the server side; returns how many were open."""
        return await self.ws.drop_all()

    def describe(self) -> str:
        symbols = ", ".join(f"{s} ({m.symbol.replace('/', '')})" for s, m in self.core.markets.items())
        return (
            f"Binance-compatible mock exchange '{self.core.name}' on {self.url}\n"
            f"  REST       {self.url}/api/v3  (exchangeInfo, depth, klines, account, order, openOrders,\n"
            f"             myTrades)\n"
            f"  streams    {self.ws_url}/ws/<n>  (SUBSCRIBE <symbol>@depth@100ms, <symbol>@trade)\n"
            f"  user data  {self.ws_url}/ws-api/v3  (userDataStream.subscribe.signature)\n"
            f"  markets    {symbols}\n"
            f"  accounts   {', '.join(self.account_ids)} (one API key each, same initial balances)\n"
            f'  ccxt venue: kind = "ccxt", exchange = "binance", urls = "{self.url}",\n'
            f'              options = {{ fetchMarkets = {{ types = ["spot"] }}, fetchCurrencies = false, '
            f"fetchMargins = false }}"
        )

    async def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        await self.ws.drop_all()
        await self.core.stop()
        await self._runner.cleanup()


async def serve_facade(
    host: str,
    port: int,
    venue_params: MockVenueParams,
    api_key: str,
    api_secret: str,
    *,
    venue_name: str = "mock",
    request_limit_per_s: float | None = None,
    faults: FaultParams | None = None,
    extra_accounts: Mapping[str, tuple[str, str]] | None = None,
) -> FacadeHandle:
    """Run the mock venue behind a Binance spot REST + websocket API on host:port (0: a free port).

    Signed endpoints accept `api_key` with signatures made with `api_secret`, acting on the
    engine account DEFAULT_ACCOUNT, and each `extra_accounts` entry (account id -> (API key,
    secret)), acting on that account. Every account opens with the venue's initial balances and
    trades on the same books. `request_limit_per_s` answers REST requests above that rate with
    429 + Retry-After.
    """
    extra = extra_accounts or {}
    keys = KeyRing(
        [Credentials(api_key, api_secret, DEFAULT_ACCOUNT)]
        + [Credentials(key, secret, account_id) for account_id, (key, secret) in extra.items()]
    )
    core = FacadeCore(venue_name, venue_params, faults, keys.account_ids)
    rest = RestApi(core, keys, request_limit_per_s)
    ws = WsApi(core, keys)
    app = web.Application()
    app.add_routes(rest.routes() + ws.routes())
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    await core.start()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
    except BaseException:
        await core.stop()
        await runner.cleanup()
        raise
    bound = runner.addresses[0]
    return FacadeHandle(f"http://{_host(bound[0])}:{bound[1]}", core, rest, ws, api_key, runner)


def _host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


# ---- command line ------------------------------------------------------------------------------


def _venue_params(
    config_path: str | None, venue: str | None
) -> tuple[str, MockVenueParams, FaultParams | None]:
    """The mock venue table to serve: `venue` (or the first kind = "mock" one) of a bot config."""
    # The embedded bot config is read as package data: the facade depends on its content (the mock
    # venue table), not on the bot's code.
    path = Path(config_path) if config_path is not None else Path(str(files("bot") / "default_config.toml"))
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SystemExit(f"{path}: cannot read config: {exc}") from None
    venues: dict[str, Any] = data.get("venues") or {}
    mock = {
        name: table
        for name, table in venues.items()
        if isinstance(table, dict) and table.get("kind") == "mock"
    }
    if venue is None:
        if not mock:
            raise SystemExit(f'{path}: no [venues.<name>] with kind = "mock" to serve')
        venue = next(iter(mock))
    elif venue not in mock:
        raise SystemExit(
            f"{path}: venues.{venue}: no such mock venue (mock venues: {', '.join(mock) or 'none'})"
        )
    table = dict(mock[venue])
    raw_faults = table.pop("faults", None)  # the facade's own block: the bot's mock venue has none
    try:
        faults = None if raw_faults is None else FaultParams.model_validate(raw_faults)
        return venue, MockVenueParams.model_validate(table), faults
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise SystemExit(f"{path}: venues.{venue}: {problems}") from None


def _extra_accounts(specs: Sequence[str]) -> dict[str, tuple[str, str]]:
    """`--account KEY_ENV:SECRET_ENV` options as account id -> (key, secret), read from the env.

    The accounts are `account2`, `account3`, ... in the order given (the main one is the first).
    """
    out: dict[str, tuple[str, str]] = {}
    for number, spec in enumerate(specs, start=2):
        key_env, sep, secret_env = spec.partition(":")
        if not sep or not key_env or not secret_env:
            raise SystemExit(f"--account {spec!r}: expected KEY_ENV:SECRET_ENV (two env variable names)")
        values = []
        for env_name in (key_env, secret_env):
            value = os.environ.get(env_name)
            if not value:
                raise SystemExit(f"--account {spec}: environment variable {env_name} is not set or empty")
            values.append(value)
        out[f"account{number}"] = (values[0], values[1])
    return out


async def _run(args: argparse.Namespace) -> None:
    name, params, faults = _venue_params(args.config, args.venue)
    api_key = args.api_key or os.environ.get(API_KEY_ENV) or secrets.token_hex(16)
    api_secret = args.api_secret or os.environ.get(SECRET_ENV) or secrets.token_hex(32)
    extra = _extra_accounts(args.account or [])
    try:
        handle = await serve_facade(
            args.host, args.port, params, api_key, api_secret,
            venue_name=name, faults=faults, extra_accounts=extra,
        )  # fmt: skip
    except ValueError as exc:  # two accounts with one key
        raise SystemExit(f"mock-exchange: {exc}") from None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        print(handle.describe())
        # A local test credential of a mock exchange, printed on purpose so clients can use it.
        print(f"  API key    {api_key}\n  API secret {api_secret}")
        for (account_id, _), spec in zip(extra.items(), args.account or [], strict=True):
            print(f"  {account_id:<10} API key and secret from ${spec.replace(':', ' / $')}")
        print(f"  (set {API_KEY_ENV} / {SECRET_ENV} to choose them; Ctrl-C stops)", flush=True)
        await stop.wait()
    finally:
        await handle.stop()


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    parser = parser or argparse.ArgumentParser(
        prog="mmbot mock-exchange", description="Serve a mock venue as a Binance-compatible REST + WS API"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--config", help="bot config whose mock venue to serve (default: the embedded one)")
    parser.add_argument("--venue", help="name of the mock venue in the config (default: the first)")
    parser.add_argument("--api-key", help=f"test API key to accept (default: ${API_KEY_ENV} or random)")
    parser.add_argument("--api-secret", help=f"test API secret to accept (default: ${SECRET_ENV} or random)")
    parser.add_argument(
        "--account",
        action="append",
        metavar="KEY_ENV:SECRET_ENV",
        help="serve one more account (repeatable): its API key and secret are read from these "
        "environment variables; accounts share the books and each starts with the initial balances",
    )
    return parser


def run(args: argparse.Namespace) -> int:
    asyncio.run(_run(args))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run(build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
