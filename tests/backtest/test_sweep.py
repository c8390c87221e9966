"""`mmbot sweep`: grid validation, the ranking rule, a point's failure as a value, a local Ray,
and a real two-node Ray cluster with token authentication whose worker cannot see the driver's
files (the input folder is deleted once the driver has read it, before any point runs)."""

import json
import shutil
import subprocess
import sys
import tomllib

import pytest

from bot.backtest.sweep import SweepError, grid_points, load_grid
from bot.backtest.sweep_point import run_point
from bot.backtest.sweep_table import MIN_SHARPE_INTERVALS, rank, row_of, to_markdown
from bot.backtest.synthetic import SyntheticParams, generate
from bot.cli import main
from connectors.replay.events import save_events
from tests.backtest.ray_cluster import WORKER_RESOURCE, two_node_cluster
from tests.backtest.test_backtest_cli import CONFIG
from tests.kit import child_env

REPORT_FILES = {"report.md", "report.json", "pnl.png", "inventory.png", "markouts.png", "backtest.sqlite"}
# Runs the CLI, deleting the input folder (argv[1]) right after the driver has read the event
# files: every point then runs with no copy of the driver's files but what Ray carried.
DRIVER = """
import shutil, sys
import bot.backtest.sweep as sweep
from bot.cli import main
read = sweep.read_data_files
def read_then_delete(paths):
    blobs = read(paths)
    shutil.rmtree(sys.argv[1])
    return blobs
sweep.read_data_files = read_then_delete
sys.exit(main(sys.argv[2:]))
"""


def write_inputs(folder, grid_text, config=CONFIG, **params):
    folder.mkdir(exist_ok=True)
    data = generate(SyntheticParams(**{"rows": 2_000, "seed": 7, "symbol": "BTC/USDT", **params}))
    save_events(folder / "syn.npz", data)
    (folder / "bt.toml").write_text(config)
    (folder / "grid.toml").write_text(grid_text)


def test_grid_points_are_validated_and_named(tmp_path):
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


def _summary(net, fills, sharpe=1.5, intervals=MIN_SHARPE_INTERVALS):
    return {"summary": {"net_pnl": net, "fills": fills, "sharpe": sharpe, "pnl_intervals": intervals,
                        "max_drawdown": 0.0, "fill_rate": 0.5, "orders": 10}}  # fmt: skip


def test_ranking_rule_traded_by_pnl_then_no_fills_then_failed():
    results = [
        _summary(0.0, 0, sharpe=0.0),  # no fills: after every point that traded, losers included
        _summary(-2.0, 5),
        {"error": "EventFileError: /data/bad.npz: cannot read an .npz event file (x | y)"},
        _summary(3.0, 7, intervals=MIN_SHARPE_INTERVALS - 1),  # too few PnL changes: n/a
        _summary(3.0, 9, sharpe=2.5),
        _summary(0.0, 0, sharpe=0.0),
    ]
    rows = rank([row_of(i, {"k": i}, r) for i, r in enumerate(results)])
    assert [(r["index"], r["rank"]) for r in rows] == [(4, 1), (3, 2), (1, 3), (0, 4), (5, 5), (2, None)]
    assert [r["sharpe"] for r in rows[:5]] == [2.5, None, 1.5, None, None]
    table = to_markdown(rows, ["k"]).splitlines()
    assert table[4] == "| 1 | 4 | 3 | 2.5 | 0 | 0.5 | 9 | 10 |  |"
    assert table[5] == "| 2 | 3 | 3 | n/a | 0 | 0.5 | 7 | 10 |  |"
    assert table[7] == "| 4 | 0 | 0 | n/a | 0 | 0.5 | 0 | 10 | no fills |"
    assert table[9] == (
        "| — | 2 |  |  |  |  |  |  | failed: EventFileError: /data/bad.npz: cannot read an .npz event "
        "file (x \\| y) |"
    )


def test_a_failing_point_is_a_value_naming_the_drivers_file(tmp_path):
    data = tomllib.loads(CONFIG)
    result = run_point(data, {"rp": b"<html>502 Bad Gateway</html>"}, {"rp": "/driver/data/btc.npz"})
    assert set(result) == {"error", "traceback"}
    assert result["error"].startswith("EventFileError: /driver/data/btc.npz: cannot read an .npz event file")
    assert "mmbot-point-" not in result["error"]  # the worker's temporary copy is not named


def test_a_ray_failure_is_named_by_its_cause():
    from ray.exceptions import RayTaskError, WorkerCrashedError

    from bot.backtest.sweep_ray import _ray_error_line

    task_error = RayTaskError("_remote_point", "Traceback ...", ModuleNotFoundError("No module named 'ccxt'"))
    assert _ray_error_line(task_error) == "ModuleNotFoundError: No module named 'ccxt'"
    assert _ray_error_line(WorkerCrashedError()).startswith("WorkerCrashedError: The worker died")


def test_sweep_on_local_ray_ranks_one_row_per_point(tmp_path, capsys):
    import ray  # in the test extra: a missing Ray fails here instead of skipping the sweep

    assert ray.__version__
    write_inputs(tmp_path, '"strategies.mm.half_spread_bps" = [1, 3]\n')
    out = tmp_path / "sweep"
    code = main(["sweep", "--config", str(tmp_path / "bt.toml"), "--data", str(tmp_path / "syn.npz"),
                 "--grid", str(tmp_path / "grid.toml"), "--workers", "2", "--out", str(out)])  # fmt: skip
    assert code == 0
    assert "2 points on Ray (2 CPUs in the cluster), at most 2 at once" in capsys.readouterr().err
    rows = json.loads((out / "sweep.json").read_text())
    assert sorted(r["point"]["strategies.mm.half_spread_bps"] for r in rows) == [1, 3]
    assert [r["rank"] for r in rows] == [1, 2] and rows[0]["net_pnl"] >= rows[1]["net_pnl"]
    for r in rows:  # each point is a full backtest with its own report, written by the driver
        assert {p.name for p in (out / r["folder"]).iterdir()} == REPORT_FILES
        report = json.loads((out / r["folder"] / "report.json").read_text())
        assert r["fills"] == report["total"]["fills"] > 0
        assert r["net_pnl"] == pytest.approx(report["total"]["net"])
        assert r["pnl_intervals"] == report["performance"]["intervals"] < MIN_SHARPE_INTERVALS
        assert r["sharpe"] is None  # a 3-second file: n/a, not an annualised ratio of 3 samples
    assert "| rank | strategies.mm.half_spread_bps |" in (out / "sweep.md").read_text()


def cluster_sweep_args(folder, out, address):
    return ["sweep", "--config", str(folder / "bt.toml"), "--grid", str(folder / "grid.toml"),
            "--resource", WORKER_RESOURCE, "--out", str(out), "--address", address]  # fmt: skip


def test_sweep_on_two_nodes_without_a_shared_disk(tmp_path):
    inputs = tmp_path / "inputs"
    # 39 minutes of data in 1,000 rows (39 one-minute PnL changes; snapshots once a minute keep
    # the simulated bot's work small), and a file that is not one: its points fail.
    write_inputs(
        inputs,
        '"venues.rp.data" = ["syn.npz", "bad.npz"]\n"strategies.mm.half_spread_bps" = [1, 3, 500]\n',
        config=CONFIG.replace("snapshot_interval_s = 2", "snapshot_interval_s = 60"),
        rows=1_000, mean_interval_ms=4000.0, trade_fraction=0.4, mean_trade_lots=8.0,
    )  # fmt: skip
    (inputs / "bad.npz").write_bytes(b"<html>502 Bad Gateway</html>")  # a failed download
    out = tmp_path / "out"
    # The refused driver runs beside the real one (most of its time is imports and connection
    # waits), on its own copy of the inputs (the real driver deletes them) and its own --out.
    refused_in, refused_out = tmp_path / "refused-in", tmp_path / "refused-out"
    shutil.copytree(inputs, refused_in)
    with two_node_cluster() as cluster:
        # Without the token the cluster refuses the driver; the sweep says what to set.
        refused = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", *cluster_sweep_args(refused_in, refused_out, cluster.address)],
            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={k: v for k, v in child_env(RAY_gcs_server_port_wait_time_s="2").items()
                 if not k.startswith("RAY_AUTH")},
        )  # fmt: skip
        proc = subprocess.run(
            [sys.executable, "-c", DRIVER, str(inputs), *cluster_sweep_args(inputs, out, cluster.address)],
            cwd=tmp_path, capture_output=True, text=True, timeout=600,
            env=cluster.driver_env(child_env()),
        )  # fmt: skip
        _, refused_err = refused.communicate(timeout=300)
        assert refused.returncode == 2, refused_err[-3000:]
        assert "RAY_AUTH_MODE=token and RAY_AUTH_TOKEN_PATH" in refused_err
        assert not refused_out.exists()
        worker_node = cluster.worker_node_id()
    print(proc.stdout)  # the table, for the record (pytest -s)
    assert proc.returncode == 1, proc.stderr[-3000:]  # some points failed, the others completed
    assert not inputs.exists()
    assert "6 points on Ray (2 CPUs in the cluster), at most 2 at once" in proc.stderr
    assert "3 of 6 points failed" in proc.stderr
    rows = json.loads((out / "sweep.json").read_text())
    assert [(r["rank"], r["point"]["venues.rp.data"], r["point"]["strategies.mm.half_spread_bps"])
            for r in rows][2:] == [(3, "syn.npz", 500), (None, "bad.npz", 1), (None, "bad.npz", 3),
                                   (None, "bad.npz", 500)]  # fmt: skip
    traded = rows[:2]
    assert [r["rank"] for r in traded] == [1, 2] and traded[0]["net_pnl"] >= traded[1]["net_pnl"]
    assert {r["point"]["strategies.mm.half_spread_bps"] for r in traded} == {1, 3}
    for r in rows[:3]:  # run on the worker node, their files written under the driver's --out
        assert r["node_id"] == worker_node
        assert {p.name for p in (out / r["folder"]).iterdir()} == REPORT_FILES
        report = json.loads((out / r["folder"] / "report.json").read_text())
        assert r["fills"] == report["total"]["fills"] and r["pnl_intervals"] >= MIN_SHARPE_INTERVALS
    for r in traded:
        report = json.loads((out / r["folder"] / "report.json").read_text())
        assert r["fills"] > 0 and r["sharpe"] == pytest.approx(report["performance"]["sharpe"])
    assert rows[2]["fills"] == 0 and rows[2]["sharpe"] is None
    bad = str(inputs / "bad.npz")
    for r in rows[3:]:
        assert r["error"].startswith(f"EventFileError: {bad}: cannot read an .npz event file"), r["error"]
        assert "cannot read an .npz event file" in (out / r["folder"] / "error.txt").read_text()
        assert f"| failed: EventFileError: {bad}: cannot read" in proc.stdout
    assert "| 3 | syn.npz | 500 |" in proc.stdout and "no fills |" in proc.stdout
