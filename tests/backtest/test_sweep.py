"""`mmbot sweep` on a local Ray with two workers: one ranked row per grid point."""

import json

import pytest

from bot.backtest.sweep import SweepError, grid_points, load_grid
from bot.backtest.synthetic import SyntheticParams, generate
from bot.cli import main
from connectors.replay.events import save_events
from tests.backtest.test_backtest_cli import CONFIG


def write_inputs(tmp_path, grid_text):
    save_events(tmp_path / "syn.npz", generate(SyntheticParams(rows=2_000, seed=7, symbol="BTC/USDT")))
    (tmp_path / "bt.toml").write_text(CONFIG)
    (tmp_path / "grid.toml").write_text(grid_text)


def test_grid_points_are_validated_and_named(tmp_path):
    import tomllib

    write_inputs(
        tmp_path, '"strategies.mm.half_spread_bps" = [1, 2]\n"risk.max_open_orders" = [10, 20, 30]\n'
    )
    raw = tomllib.loads(CONFIG)
    points = grid_points(raw, load_grid(tmp_path / "grid.toml"), "bt.toml")
    assert [p for p, _ in points][:2] == [
        {"strategies.mm.half_spread_bps": 1, "risk.max_open_orders": 10},
        {"strategies.mm.half_spread_bps": 1, "risk.max_open_orders": 20},
    ]
    assert len(points) == 6 and points[5][1]["risk"]["max_open_orders"] == 30
    with pytest.raises(SweepError, match=r"strategies\.mm\.half_spread_bps"):
        grid_points(raw, {"strategies.mm.half_spread_bps": [-1]}, "bt.toml")
    with pytest.raises(SweepError, match=r"strategies\.xx: Unable to extract tag"):
        grid_points(raw, {"strategies.xx.half_spread_bps": [1]}, "bt.toml")


def test_sweep_on_local_ray_ranks_one_row_per_point(tmp_path, capsys):
    import ray  # in the test extra: a missing Ray fails here instead of skipping the sweep

    assert ray.__version__
    write_inputs(tmp_path, '"strategies.mm.half_spread_bps" = [1, 3]\n')
    out = tmp_path / "sweep"
    code = main(["sweep", "--config", str(tmp_path / "bt.toml"), "--data", str(tmp_path / "syn.npz"),
                 "--grid", str(tmp_path / "grid.toml"), "--workers", "2", "--out", str(out)])  # fmt: skip
    assert code == 0
    rows = json.loads((out / "sweep.json").read_text())
    assert sorted(r["point"]["strategies.mm.half_spread_bps"] for r in rows) == [1, 3]
    assert [r["rank"] for r in rows] == [1, 2] and rows[0]["net_pnl"] >= rows[1]["net_pnl"]
    for r in rows:  # each point is a full backtest with its own report
        report = json.loads((out / r["folder"] / "report.json").read_text())
        assert r["fills"] == report["total"]["fills"] and r["net_pnl"] == pytest.approx(
            report["total"]["net"]
        )
    assert "| rank | strategies.mm.half_spread_bps |" in (out / "sweep.md").read_text()
