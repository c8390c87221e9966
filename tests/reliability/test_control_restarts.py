"""Control state and single-instance start-up with real processes: `mmbot run` (real ccxt) against
`mmbot mock-exchange`, killed with SIGKILL and stopped with SIGTERM, commanded over its ops endpoint.

- a paused bot places 0 orders after a restart until POST /resume;
- a tripped kill switch stays tripped through restarts;
- a second process on the same config refuses with one line and exit code INSTANCE_LOCKED, and
  the first keeps running undisturbed;
- a taken ops port stops the start with OPS_PORT_TAKEN before any venue is touched, unless
  `bot.ops.optional = true`.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from bot.core.exit_codes import ExitCode
from bot.kernel.store import Store
from tests.reliability.procs import (
    FacadeProcess,
    PreparedBot,
    VenueView,
    bot_env,
    facade_config,
    orders_since_start,
    prepare_bot,
    start_bot,
    wait_for,
    write_bot_toml,
)

PREFIX = "ctl-"
TOKEN_ENV, TOKEN = "CTL_OPS_TOKEN", "control-test-token-81f2"


def write_config(tmp_path: Path, url: str) -> Path:
    return write_bot_toml(tmp_path, url, "ctl", bot={"ops": {"port": 0, "token_env": TOKEN_ENV}})


def prepare(config_path: Path, tmp_path: Path, log_path: Path) -> PreparedBot:
    return prepare_bot(config_path, tmp_path, log_path, env=bot_env(**{TOKEN_ENV: TOKEN}))


def log_lines(log_path: Path) -> list[dict[str, Any]]:
    out = []
    for line in log_path.read_text().splitlines():
        if line.startswith("{"):
            out.append(json.loads(line))
    return out


class RunningBot:
    """One `mmbot run` process and its ops endpoint (port 0: read back from its log)."""

    def __init__(self, prepared: PreparedBot, log_path: Path) -> None:
        self.log_path = log_path
        self.seen = len(self._ops_urls())
        self.proc = prepared.start()
        self.url = wait_for("ops endpoint", self._new_ops_url, self.proc, log_path)

    def _ops_urls(self) -> list[str]:
        if not self.log_path.exists():
            return []
        msgs = [e["msg"] for e in log_lines(self.log_path)]
        return [m.split()[-1] for m in msgs if m.startswith("ops endpoint on ")]

    def _new_ops_url(self) -> str | None:
        urls = self._ops_urls()
        return urls[-1] if len(urls) > self.seen else None

    def get(self, path: str) -> dict[str, Any]:
        with urllib.request.urlopen(self.url + path, timeout=10) as answer:
            return dict(json.loads(answer.read()))

    def post(self, path: str) -> dict[str, Any]:
        request = urllib.request.Request(
            self.url + path, method="POST", headers={"Authorization": f"Bearer {TOKEN}"}
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            return dict(json.loads(answer.read()))

    def pause_state(self) -> dict[str, Any]:
        return dict(self.get("/status")["pause"])

    def kill(self, sig: signal.Signals) -> int:
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=60)


def assert_no_errors(log_path: Path) -> None:
    errors = [e for e in log_lines(log_path) if e.get("level") in ("ERROR", "CRITICAL")]
    assert errors == [], errors[:3]


@pytest.fixture
def facade(tmp_path):
    process = FacadeProcess(tmp_path, facade_config(taker_rate_per_s=1.0))
    yield process
    process.stop()


@pytest.mark.slow
def test_operator_pause_survives_sigkill_and_sigterm_until_resume(tmp_path, facade):
    view = VenueView(facade.url)
    config = write_config(tmp_path, facade.url)
    store_url = f"sqlite:///{tmp_path}/bot.sqlite"
    log = tmp_path / "bot.log"
    bot = RunningBot(prepare(config, tmp_path, log), log)
    successor = prepare(config, tmp_path, log)  # every next process imports while this one runs
    wait_for("quotes before the pause", lambda: view.open_orders(PREFIX), bot.proc, log)
    assert bot.post("/pause?reason=maintenance") == {"paused": True}
    wait_for("quotes pulled by the pause", lambda: not view.open_orders(PREFIX), bot.proc, log)

    restarts = []
    for sig in (signal.SIGKILL, signal.SIGTERM):
        code = bot.kill(sig)
        assert code == (-signal.SIGKILL if sig is signal.SIGKILL else 0), log.read_text()[-3000:]
        bot, successor = RunningBot(successor, log), prepare(config, tmp_path, log)
        pause = bot.pause_state()
        assert (pause["paused"], pause["by"]) == (True, "operator"), pause
        assert "maintenance" in pause["reason"]
        time.sleep(3.0)  # books stream in (every 50 ms): an unpaused bot quotes within a second
        assert bot.get("/status")["counters"]["placed"] == 0
        assert view.open_orders(PREFIX) == {}
        restarts.append(len(Store(store_url).events("start")) - 1)
        assert orders_since_start(tmp_path, restarts[-1]) == 0

    resumed_at = time.monotonic()
    assert bot.post("/resume")["resumed"] is True
    wait_for("quotes after the resume", lambda: view.open_orders(PREFIX), bot.proc, log)
    quoting_after_s = time.monotonic() - resumed_at
    assert bot.pause_state()["paused"] is False
    assert bot.kill(signal.SIGTERM) == 0
    # Resumed is resumed: the next start quotes.
    bot = RunningBot(successor, log)
    assert bot.pause_state()["paused"] is False
    wait_for("quotes after a restart once resumed", lambda: view.open_orders(PREFIX), bot.proc, log)
    assert bot.kill(signal.SIGTERM) == 0
    assert view.open_orders(PREFIX) == {}
    assert_no_errors(log)
    print(f"\nquoting again {quoting_after_s:.2f}s after POST /resume")


@pytest.mark.slow
def test_tripped_kill_switch_stays_tripped_across_restarts(tmp_path, facade):
    view = VenueView(facade.url)
    # 2 markets x 2 levels x 2 sides = 8 orders at the first quote: more than 5 a minute trips it.
    data_risk = {"max_orders_per_minute": 5, "check_interval_s": 0.5}
    config = write_config(tmp_path, facade.url)
    text = config.read_text() + "\n[risk]\n" + "".join(f"{k} = {v}\n" for k, v in data_risk.items())
    config.write_text(text)
    store_url = f"sqlite:///{tmp_path}/bot.sqlite"
    log = tmp_path / "bot.log"
    bot = RunningBot(prepare(config, tmp_path, log), log)
    successor = prepare(config, tmp_path, log)  # every next process imports while this one runs
    trip = wait_for("a kill-switch trip", lambda: bot.pause_state()["kill_switch"], bot.proc, log)
    assert trip["rule"] == "order_rate"
    wait_for("quotes pulled by the trip", lambda: not view.open_orders(PREFIX), bot.proc, log)

    signals = (signal.SIGKILL, signal.SIGTERM)
    for n, sig in enumerate(signals, 1):
        bot.kill(sig)
        bot = RunningBot(successor, log)
        if n < len(signals):
            successor = prepare(config, tmp_path, log)
        pause = bot.pause_state()
        assert pause["paused"] is True and pause["by"] == "kill_switch", pause
        assert pause["kill_switch"] == trip  # the same trip, not a new one
        time.sleep(3.0)
        assert bot.get("/status")["counters"]["placed"] == 0
        assert orders_since_start(tmp_path, len(Store(store_url).events("start")) - 1) == 0
        assert view.open_orders(PREFIX) == {}
    assert len(Store(store_url).events("kill_switch")) == 1  # tripped once, held since
    assert bot.kill(signal.SIGTERM) == 0
    assert_no_errors(log)


@pytest.mark.slow
def test_second_instance_is_refused_and_the_first_runs_on(tmp_path, facade):
    view = VenueView(facade.url)
    config = write_config(tmp_path, facade.url)
    store_url = f"sqlite:///{tmp_path}/bot.sqlite"
    log = tmp_path / "bot.log"
    first = RunningBot(prepare(config, tmp_path, log), log)
    wait_for("the first bot's quotes", lambda: view.open_orders(PREFIX), first.proc, log)
    placed_before = first.get("/status")["counters"]["placed"]

    refused_in = time.monotonic()
    second = subprocess.run(
        [sys.executable, "-m", "bot.cli", "run", "--config", str(config)],
        capture_output=True, text=True, cwd=tmp_path, env=bot_env(**{TOKEN_ENV: TOKEN}), timeout=60,
    )  # fmt: skip
    refused_in = time.monotonic() - refused_in
    assert second.returncode == ExitCode.INSTANCE_LOCKED == 4
    assert second.stdout == ""
    lines = second.stderr.splitlines()
    assert len(lines) == 1, second.stderr
    record = json.loads(lines[0])  # the config logs JSON: a fatal start is one JSON line too
    assert record["level"] == "ERROR"
    assert record["msg"] == (
        f"another mmbot process runs instance ctl on {tmp_path / 'bot.sqlite'} "
        f"(lock {tmp_path / 'bot.sqlite'}.ctl.lock is held)"
    )

    # The first one never noticed: one start stored, still quoting, no errors, a clean stop.
    wait_for(
        "orders placed after the refused start",
        lambda: first.get("/status")["counters"]["placed"] > placed_before, first.proc, log,
    )  # fmt: skip
    assert first.get("/health")["status"] in ("ok", "unhealthy")  # answers: the endpoint is its own
    assert len(Store(store_url).events("start")) == 1
    assert first.proc.poll() is None
    assert first.kill(signal.SIGTERM) == 0
    stops = [e["msg"] for e in log_lines(log) if e["msg"].startswith("stopped: ")]
    assert stops and stops[-1].startswith("stopped: 0 open orders left"), stops
    assert "UNIQUE constraint" not in log.read_text()
    assert_no_errors(log)
    print(f"\nsecond instance refused in {refused_in:.2f}s (process start to exit)")


@pytest.mark.slow
def test_taken_ops_port_stops_the_start_unless_optional(tmp_path, facade):
    view = VenueView(facade.url)
    store_url = f"sqlite:///{tmp_path}/bot.sqlite"
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        config = write_config(tmp_path, facade.url)
        data = config.read_text().replace("port = 0", f"port = {port}")
        config.write_text(data)
        refused_in = time.monotonic()
        refused = subprocess.run(
            [sys.executable, "-m", "bot.cli", "run", "--config", str(config)],
            capture_output=True, text=True, cwd=tmp_path, env=bot_env(), timeout=60,
        )  # fmt: skip
        refused_in = time.monotonic() - refused_in
        assert refused.returncode == ExitCode.OPS_PORT_TAKEN == 5
        lines = refused.stderr.splitlines()
        assert len(lines) == 1 and f"cannot bind 127.0.0.1:{port}" in lines[0], refused.stderr
        assert Store(store_url).events("start") == []  # refused before touching the venue
        assert view.open_orders(PREFIX) == {}

        config.write_text(data.replace(f"port = {port}", f"port = {port}\noptional = true"))
        log = tmp_path / "bot.log"
        bot = start_bot(config, tmp_path, log)
        wait_for("quotes without the ops endpoint", lambda: view.open_orders(PREFIX), bot, log)
        warnings = [e["msg"] for e in log_lines(log) if e["level"] == "WARNING"]
        assert any("running without it (bot.ops.optional = true)" in w for w in warnings), warnings
        bot.send_signal(signal.SIGTERM)
        assert bot.wait(timeout=60) == 0
    assert view.open_orders(PREFIX) == {}
    assert_no_errors(log)
    print(f"\ntaken ops port refused in {refused_in:.2f}s (process start to exit)")
