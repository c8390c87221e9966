"""Configs that `check-config` used to accept and `run` then crashed on with a raw traceback.

Each is refused by `check-config` with exit 2 and one line naming the field, and `mmbot run` (a
real process, JSON logs) fails on the same line before starting anything: exit code CONFIG, every
stderr line JSON, no traceback, no store created, and a notification to the operator's webhook.
A venue that cannot be reached at start is exit code VENUE_UNREACHABLE, the same way.
"""

from __future__ import annotations

import copy
import json
import re
import socket
import subprocess
import sys
import threading
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from bot.cli import main
from bot.core.exit_codes import ExitCode
from tests.kit import REPO_ROOT, child_env
from tests.reliability.procs import (
    KEY,
    KEY_ENV,
    SECRET,
    SECRET_ENV,
    FacadeProcess,
    bot_config,
    facade_config,
)

WEBHOOK_ENV = "MMBOT_NOTIFY_WEBHOOK_URL"


def example(tmp_path: Path) -> dict[str, Any]:
    """config.example.toml as the issue's operator ran it: JSON logs, its store in tmp_path."""
    data = tomllib.loads((REPO_ROOT / "config.example.toml").read_text())
    data["bot"].update(log_format="json", database_url="sqlite:///bot.sqlite")
    data["bot"]["ops"]["enabled"] = False  # port 8780 may be anyone's on a test machine
    return data


def with_arbitrage_example(tmp_path: Path) -> dict[str, Any]:
    """The commented arbitrage example uncommented, naming the pool it used to name."""
    text = (REPO_ROOT / "config.example.toml").read_text()
    start = text.index("# [strategies.arb]")
    block = re.sub(r"^# ?", "", text[start:], flags=re.M).replace('pool = "uni"', 'pool = "uniswap_sim"')
    data = tomllib.loads(text[:start] + block)
    data["bot"].update(copy.deepcopy(example(tmp_path)["bot"]))
    return data


def ccxt_config(tmp_path: Path, url: str = "http://127.0.0.1:9") -> dict[str, Any]:
    data = bot_config(url)
    data["bot"]["database_url"] = "sqlite:///bot.sqlite"
    return data


def set_in(path: tuple[Any, ...], value: Any) -> Callable[[Path], dict[str, Any]]:
    def build(tmp_path: Path) -> dict[str, Any]:
        data = example(tmp_path)
        node = data
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
        return data

    return build


def unwritable_database(tmp_path: Path) -> dict[str, Any]:
    (tmp_path / "not-a-folder").write_text("")  # refused to everyone, root included
    data = example(tmp_path)
    data["bot"]["database_url"] = "sqlite:///not-a-folder/bot.sqlite"
    return data


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[Path], dict[str, Any]]
    line: str  # the start of the one line after "<file>: "


CASES = [
    Case(
        "credential",
        ccxt_config,
        f"venues.fx.secret_env: environment variable {SECRET_ENV} is not set or empty",
    ),
    Case("database", unwritable_database, "bot.database_url: "),
    Case(
        "tick",
        set_in(("venues", "sim_a", "markets", 0, "tick_size"), "1e-999"),
        "venues.sim_a.markets[0].tick_size: must be between 1E-18 and 1E+9",
    ),
    Case(
        "lot",
        set_in(("venues", "sim_a", "markets", 0, "lot_size"), 1e-300),
        "venues.sim_a.markets[0].lot_size: must be between 1E-18 and 1E+9",
    ),
    Case(
        "max_position",
        set_in(("markets", 0, "max_position"), 2**70),
        "markets[0].max_position: 1180591620717411303424 is 1.181E+24 lots of 0.001; at most 1E+12 lots",
    ),
    Case(
        "pool_value",
        set_in(("venues", "uni", "background", 0, "value_token1"), 1e300),
        "venues.uni.background[0].value_token1: 1e+300 is more than the pool can hold",
    ),
    Case(
        "initial_price",
        set_in(("venues", "sim_a", "markets", 0, "initial_price"), 2**63 - 1),
        "venues.sim_a.markets[0].initial_price: 9223372036854775807 is 9.223E+19 ticks of 0.1",
    ),
    Case(
        "arbitrage_pool",
        with_arbitrage_example,
        "strategies.arb.pool: 'uniswap_sim' is not a sim_pool or uniswap_v3 venue of [venues] "
        "(pool venues: uni)",
    ),
]


class Webhook:
    """An operator's webhook on 127.0.0.1: every JSON body posted to it."""

    def __init__(self) -> None:
        bodies: list[dict[str, Any]] = []
        self.bodies = bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.close()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def write_case(tmp_path: Path, case: Case) -> Path:
    folder = tmp_path / case.name
    folder.mkdir()
    path = folder / "bot.toml"
    path.write_text(tomli_w.dumps(case.build(folder)))
    return path


def run_env(webhook_url: str, *, with_secret: bool) -> dict[str, str]:
    """The key set, the secret only `with_secret` (unset: the credential case); the webhook."""
    env = child_env(**{KEY_ENV: KEY, WEBHOOK_ENV: webhook_url})
    env.pop(SECRET_ENV, None)
    return {**env, SECRET_ENV: SECRET} if with_secret else env


def the_one_error(err: str) -> str:
    """Every stderr line is a JSON log record, none with a traceback; the one ERROR's message."""
    records = [json.loads(line) for line in err.splitlines()]  # a line that is not JSON fails here
    assert not any("exc" in r or "Traceback" in r["msg"] for r in records), err
    errors = [r["msg"] for r in records if r["level"] in ("ERROR", "CRITICAL")]
    assert len(errors) == 1, err
    return str(errors[0])


def test_each_crash_class_config_is_refused_by_check_config_and_by_run_before_it_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], webhook: Webhook
) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    monkeypatch.delenv(SECRET_ENV, raising=False)
    paths = {case.name: write_case(tmp_path, case) for case in CASES}
    lines = {}
    for case in CASES:
        code = main(["check-config", str(paths[case.name])])
        out, err = capsys.readouterr()
        assert (code, out) == (2, ""), case.name
        assert len(err.splitlines()) == 1 and err.startswith(f"{paths[case.name]}: {case.line}"), err
        lines[case.name] = err.rstrip("\n")
    unreachable = tmp_path / "unreachable.toml"
    unreachable.write_text(tomli_w.dumps(ccxt_config(tmp_path, f"http://127.0.0.1:{closed_port()}")))
    procs = {  # all at once: each spends seconds importing
        name: subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "run", "--config", str(path)],
            cwd=path.parent,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=run_env(webhook.url, with_secret=name == "unreachable"),
        )
        for name, path in [*paths.items(), ("unreachable", unreachable)]
    }
    answers = {name: proc.communicate(timeout=120) for name, proc in procs.items()}
    for case in CASES:
        out, err = answers[case.name]
        assert (procs[case.name].returncode, out) == (ExitCode.CONFIG, ""), (case.name, err)
        assert the_one_error(err) == lines[case.name]
        assert not (paths[case.name].parent / "bot.sqlite").exists(), f"{case.name}: the store was created"
    notified = sorted(body["text"] for body in webhook.bodies if "code 2" in body["text"])
    expected = [f"[{instance(paths[c.name])}] mmbot exited with code 2: {lines[c.name]}" for c in CASES]
    assert notified == sorted(expected)
    assert {body["kind"] for body in webhook.bodies} == {"fatal"}
    out, err = answers["unreachable"]
    assert procs["unreachable"].returncode == ExitCode.VENUE_UNREACHABLE, err
    assert the_one_error(err).startswith("venues.fx: unreachable at start: fx: load_markets: ")


def instance(path: Path) -> str:
    return str(tomllib.loads(path.read_text())["bot"]["instance_id"])


def test_check_config_refuses_a_taken_ops_port_unless_asked_for_the_file_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        data = example(tmp_path)
        data["bot"]["ops"].update(enabled=True, port=port)
        path = tmp_path / "bot.toml"
        path.write_text(tomli_w.dumps(data))
        assert main(["check-config", str(path)]) == 2
        taken = f"bot.ops.port: cannot bind 127.0.0.1:{port} (Address already in use)"
        assert capsys.readouterr().err == f"{path}: {taken}\n"
        assert main(["check-config", "--file-only", str(path)]) == 0
        assert capsys.readouterr().out == f"{path}: ok\n"


def test_a_ccxt_market_whose_sizes_do_not_fit_the_exchanges_lot_is_refused_at_start(tmp_path: Path) -> None:
    """The lot of a ccxt market is the exchange's: known at start only, refused there the same way."""
    facade = FacadeProcess(tmp_path, facade_config())
    try:
        data = ccxt_config(tmp_path, facade.url)
        data["markets"][0]["max_position"] = 2**70  # BTC/USDT, lot 0.001 on the exchange
        path = tmp_path / "bot.toml"
        path.write_text(tomli_w.dumps(data))
        env = run_env("http://127.0.0.1:9/unused", with_secret=True)
        run = subprocess.run(
            [sys.executable, "-m", "bot.cli", "run", "--config", str(path)],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
    finally:
        facade.stop()
    assert run.returncode == ExitCode.CONFIG, run.stderr[-2000:]
    assert the_one_error(run.stderr) == (
        "markets[0].max_position: 1180591620717411303424 is 1.181E+24 lots of 0.001; at most 1E+12 lots "
        "(64-bit integers through a float64 quote core)"
    )
