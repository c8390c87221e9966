"""Secret values never leave their environment variables: not in logs, output, store, status or reports.

Every secret a config can name is set to a recognisable fake value and really used (the ops token
controls the bot, the ccxt key signs requests to the facade, the Telegram token is in the Bot API
path the receiver sees), then everything the bot and its commands produce is searched for them.
"""

import asyncio
import logging
import sqlite3
import subprocess
import sys
from pathlib import Path

import aiohttp
import tomli_w

from bot.app.config import load_config, secret_env_names
from bot.app.lifecycle import Bot
from bot.cli import main as cli_main
from bot.core.events import VenueStatus
from bot.kernel.store import Store
from bot.ops.logs import setup_logging
from bot.reports.report import write_report
from connectors.mock.facade import serve_facade
from tests.ccxt.conftest import BINANCE_LOCAL_OPTIONS, facade_params
from tests.kit import child_env, small_config_dict
from tests.ops.receiver import Receiver

SECRETS = {
    "T_OPS_TOKEN": "ops-secret-value-1a2b3c4d",
    "T_HOOK_URL": None,  # the receiver's URL with a secret query, set once it listens
    "T_TG_TOKEN": "424242:telegram-secret-value-5e6f7a",
    "T_TG_CHAT": "chat-secret-value-8b9c0d",
    "T_CCXT_KEY": "ccxt-key-secret-value-1f2e3d",
    "T_CCXT_SECRET": "ccxt-api-secret-value-4c5b6a",
}
HOOK_SECRET = "hook-secret-value-7d8e9f"


def secret_config(db_url: str, facade_url: str | None, receiver_url: str, clock: str) -> dict:
    data = small_config_dict(db_url, venues=("va",))
    data["bot"].update(clock=clock, log_level="DEBUG", summary_interval_s=1, snapshot_interval_s=1)
    data["bot"]["ops"] = {"port": 0, "token_env": "T_OPS_TOKEN"}
    data["bot"]["notify"] = {
        "webhook_url_env": "T_HOOK_URL",
        "telegram_token_env": "T_TG_TOKEN",
        "telegram_chat_id_env": "T_TG_CHAT",
        "telegram_api_url": receiver_url,
        "fills_summary_interval_s": 1,
        "venue_disconnect_alert_s": 0.2,
        "burst": 50,
    }
    if facade_url is not None:
        data["venues"]["fx"] = {
            "kind": "ccxt",
            "exchange": "binance",
            "urls": facade_url,
            "options": BINANCE_LOCAL_OPTIONS,
            "api_key_env": "T_CCXT_KEY",
            "secret_env": "T_CCXT_SECRET",
            "rate_limit_ms": 1,
        }
        data["markets"].append(
            {"venue": "fx", "symbol": "BTC/USDT", "order_size": "0.002", "max_position": "0.1"}
        )
        data["strategies"]["mm"]["markets"].append("fx:BTC/USDT")
    return data


def set_secrets(monkeypatch, receiver_url: str) -> list[str]:
    values = dict(SECRETS, T_HOOK_URL=f"{receiver_url}/hook?key={HOOK_SECRET}")
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return [*values.values(), HOOK_SECRET]


def store_dump(db_path: Path) -> str:
    """Every row of every table, and the raw bytes of the database and its WAL."""
    out = []
    with sqlite3.connect(db_path) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        assert {"orders", "fills", "events", "balance_snapshots"} <= set(tables)
        for table in tables:
            out.append(f"{table}: {db.execute(f'SELECT * FROM {table}').fetchall()!r}")
    for path in db_path.parent.glob(db_path.name + "*"):
        out.append(path.read_bytes().decode("latin-1"))
    return "\n".join(out)


def commands_output(config_path: Path, tmp_path: Path, capsys) -> str:
    """`mmbot status --json`, `show-config`, `check-config` and a report, as an operator runs them."""
    out = []
    for argv in (
        ["status", "--config", str(config_path), "--json"],
        ["status", "--config", str(config_path)],
        ["show-config", str(config_path)],
        ["check-config", str(config_path)],
    ):
        assert cli_main(argv) == 0
        out.append(capsys.readouterr().out)
    store = Store(load_config(config_path).bot.database_url)
    try:
        paths = write_report(store, 0, tmp_path / "report")
    finally:
        store.close()
    assert paths
    out += [p.read_bytes().decode("latin-1") for p in (tmp_path / "report").iterdir()]
    return "\n".join(out)


class Capture(logging.Handler):
    """Every record at DEBUG, formatted with its traceback, before any redaction."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def assert_no_secret(secrets: list[str], **texts: str) -> None:
    for where, text in texts.items():
        for secret in secrets:
            assert secret not in text, f"a secret value appears in {where}"


async def test_live_bot_with_ccxt_ops_and_notifications_never_shows_a_secret(tmp_path, monkeypatch, capfd):
    receiver = await Receiver(telegram_status=401).start()  # Telegram refuses: the failure is logged
    secrets = set_secrets(monkeypatch, receiver.url)
    facade = await serve_facade(
        "127.0.0.1", 0, facade_params(), SECRETS["T_CCXT_KEY"], SECRETS["T_CCXT_SECRET"]
    )
    data = secret_config(f"sqlite:///{tmp_path}/bot.sqlite", facade.url, receiver.url, "wall")
    config_path = tmp_path / "bot.toml"
    config_path.write_text(tomli_w.dumps(data))
    config = load_config(config_path)
    root = logging.getLogger()
    old_level, old_handlers = root.level, root.handlers[:]
    setup_logging(config.bot.log_format, config.bot.log_level, secret_env_names(config))  # as `mmbot run`
    capture = Capture()  # before the redacting handler (it rewrites records): as the code emits them
    root.handlers.insert(0, capture)
    bot = Bot(config, tmp_path, config_path=config_path)
    stop = asyncio.Event()
    run = asyncio.create_task(bot.run(stop=stop))
    http_out = []
    try:
        while bot.ops_server is None or not bot.ops_server.port:
            await asyncio.sleep(0.02)
        base = f"http://127.0.0.1:{bot.ops_server.port}"
        auth = {"Authorization": f"Bearer {SECRETS['T_OPS_TOKEN']}"}
        while bot.runtime.orders.counters.placed < 4:
            await asyncio.sleep(0.05)
        async with aiohttp.ClientSession() as http:
            for method, path, headers in (
                ("POST", "/pause?reason=secrets-test", {"Authorization": "Bearer wrong"}),
                ("POST", "/pause?reason=secrets-test", auth),
                ("POST", "/resume", auth),
                ("POST", "/resume?market=fx:BTC/USDT", auth),
                ("GET", "/status", {}),
                ("GET", "/health", {}),
                ("GET", "/metrics", {}),
            ):
                async with http.request(method, base + path, headers=headers) as r:
                    http_out.append(f"{method} {path} {r.status} {await r.text()}")
            bot.runtime.engine.on_event(VenueStatus("va", False, "socket closed", bot.runtime.clock.now_ns()))
            await receiver.wait_for("venue_disconnected")
            bot.runtime.engine.on_event(VenueStatus("va", True, "back", bot.runtime.clock.now_ns()))
            await receiver.wait_for("fills_summary")
            async with http.get(base + "/status") as r:
                status = await r.json()
                http_out.append(await r.text())
    finally:
        stop.set()
        await run
        root.handlers[:] = old_handlers
        root.setLevel(old_level)
        for name in ("aiohttp.access", "web3", "urllib3", "asyncio", "ccxt"):
            logging.getLogger(name).setLevel(logging.NOTSET)
        await facade.stop()
        await receiver.stop()
    # the secrets were live: control worked, ccxt signed its orders, the Bot API path held the token
    assert [line.split()[2] for line in http_out[:4]] == ["401", "200", "200", "409"]
    assert status["counters"]["placed"] >= 4
    fx_orders = sqlite3.connect(tmp_path / "bot.sqlite").execute(
        "SELECT count(*) FROM orders WHERE venue = 'fx' AND venue_order_id IS NOT NULL"
    )
    assert fx_orders.fetchone()[0] > 0  # the facade accepted orders signed with the ccxt secret
    assert {token for token, _ in receiver.telegram} == {SECRETS["T_TG_TOKEN"]}
    assert {body["chat_id"] for _, body in receiver.telegram} == {SECRETS["T_TG_CHAT"]}
    assert {"pause", "resume", "venue_disconnected", "fills_summary"} <= set(receiver.kinds())
    assert any("via telegram failing (HTTP 401)" in line for line in capture.lines)
    assert any(" DEBUG " in line for line in capture.lines)
    std = capfd.readouterr()
    assert_no_secret(
        secrets,
        logs="\n".join(capture.lines),
        stdout=std.out,
        stderr=std.err,
        ops_endpoint="\n".join(http_out),
        webhook_bodies=repr(receiver.webhook),
        store=store_dump(tmp_path / "bot.sqlite"),
        commands=commands_output(config_path, tmp_path, capfd),
    )


def test_mmbot_run_simulated_at_debug_never_prints_a_secret(tmp_path, monkeypatch, capsys):
    """A real `mmbot run` process on the simulated clock: notifications fail (nothing listens)."""
    secrets = set_secrets(monkeypatch, "http://127.0.0.1:9")
    data = secret_config("sqlite:///bot.sqlite", None, "http://127.0.0.1:9", "simulated")
    data["bot"]["log_format"] = "json"
    data["risk"].update(max_drawdown_quote="0.01", check_interval_s=1)  # trips: pause, notify
    config_path = tmp_path / "bot.toml"
    config_path.write_text(tomli_w.dumps(data))
    run = subprocess.run(
        [sys.executable, "-m", "bot.cli", "run", "--config", str(config_path), "--duration", "30"],
        capture_output=True,
        text=True,
        env=child_env(),
        cwd=tmp_path,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert '"level": "DEBUG"' in run.stderr and "kill switch drawdown" in run.stderr
    assert "notifications via webhook failing (ClientConnectorError)" in run.stderr
    assert "notifications via telegram failing (ClientConnectorError)" in run.stderr
    store = Store(f"sqlite:///{tmp_path}/bot.sqlite")
    assert [e.kind for e in store.events("kill_switch")] == ["kill_switch"]
    store.close()
    assert_no_secret(
        secrets,
        stdout=run.stdout,
        stderr=run.stderr,
        store=store_dump(tmp_path / "bot.sqlite"),
        commands=commands_output(config_path, tmp_path, capsys),
    )
