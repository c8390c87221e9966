"""`mmbot backtest` end to end on a small synthetic file: report files, figures that agree with
the store, and clear errors for a config without a replay venue or a bad data file."""

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

from bot.backtest.synthetic import SyntheticParams, generate
from bot.kernel.store import Store
from connectors.replay.events import save_events
from tests.kit import child_env

CONFIG = """
[bot]
instance_id = "bt"
snapshot_interval_s = 2

[venues.rp]
kind = "replay"
data = "missing.npz"
order_latency_ms = 1
maker_fee_bps = "-0.5"
taker_fee_bps = "2"
initial_balances = { USDT = "100000", BTC = "10" }

[[markets]]
venue = "rp"
symbol = "BTC/USDT"
order_size = "0.005"
max_position = "0.05"

[strategies.mm]
kind = "fixed_spread"
markets = ["rp:BTC/USDT"]
half_spread_bps = 1
n_levels = 2
level_spacing_bps = 1
min_requote_interval_ms = 100
"""


def mmbot(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args], cwd=cwd, env=child_env(), capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip


def test_backtest_cli_writes_the_report_of_the_replayed_run(tmp_path):
    data = generate(SyntheticParams(rows=4_000, seed=5, symbol="BTC/USDT"))
    save_events(tmp_path / "syn.npz", data)
    (tmp_path / "bt.toml").write_text(CONFIG)
    out = tmp_path / "out"
    proc = mmbot("backtest", "--config", "bt.toml", "--data", "syn.npz", "--out", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    for name in ("report.md", "report.json", "pnl.png", "inventory.png", "markouts.png"):
        assert (out / name).stat().st_size > 0, name
    summary = json.loads(proc.stdout[: proc.stdout.rindex("}") + 1])
    report = json.loads((out / "report.json").read_text())
    store = Store(f"sqlite:///{out / 'backtest.sqlite'}")
    fills = store.fills()
    assert summary["fills"] == report["total"]["fills"] == len(fills) > 10
    assert summary["start_ns"] == data.start_ns // 10**9 * 10**9 and summary["end_ns"] == data.end_ns
    # maker rebates of -0.5 bps on every fill, all of them in the report
    rebates = -sum(Decimal(f.fee) for f in fills)
    assert all(f.is_maker for f in fills) and abs(report["total"]["rebates"] - float(rebates)) < 1e-12
    assert [e.kind for e in store.events()][-1] == "stop" and store.open_orders() == []
    assert "rp:BTC/USDT" in (out / "report.md").read_text()


def test_backtest_cli_names_the_problem(tmp_path):
    (tmp_path / "bt.toml").write_text(CONFIG)
    (tmp_path / "bad.npz").write_bytes(b"not an npz")
    (tmp_path / "mock.toml").write_text(CONFIG.replace('kind = "replay"', 'kind = "mock"'))
    for name, timing in (("no_timing", "missing.timing.json"), ("bad_timing", "other.json")):
        timed = CONFIG.replace('kind = "replay"', f'kind = "replay"\nsession_timing = "{timing}"')
        (tmp_path / f"{name}.toml").write_text(timed)
    (tmp_path / "other.json").write_text('{"format": "something else"}\n')
    runs = [  # each its own --out: they run side by side
        ("backtest", "--config", "bt.toml", "--out", "o1"),
        ("backtest", "--config", "bt.toml", "--data", "bad.npz", "--out", "o2"),
        ("backtest", "--config", "mock.toml", "--out", "o3"),
        ("backtest", "--config", "no_timing.toml", "--data", "bad.npz", "--out", "o4"),
        ("backtest", "--config", "bad_timing.toml", "--data", "syn.npz", "--out", "o5"),
    ]
    save_events(tmp_path / "syn.npz", generate(SyntheticParams(rows=1_000, seed=5, symbol="BTC/USDT")))
    with ThreadPoolExecutor(len(runs)) as pool:  # all at once: each spends seconds importing
        no_file, bad_file, mock, no_timing, bad_timing = pool.map(
            lambda args: mmbot(*args, cwd=tmp_path), runs
        )
    assert no_file.returncode == 2 and "venues.rp.data: no such file" in no_file.stderr
    assert bad_file.returncode == 2 and "bad.npz: cannot read an .npz event file" in bad_file.stderr
    assert mock.returncode == 2 and "venues.rp" in mock.stderr
    assert no_timing.returncode == 2 and "venues.rp.session_timing: no such file" in no_timing.stderr
    assert bad_timing.returncode == 2, bad_timing.stderr
    assert "session_timing:" in bad_timing.stderr and "is not a session timing file" in bad_timing.stderr
    assert "Traceback" not in no_timing.stderr + bad_timing.stderr
