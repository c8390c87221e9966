"""benchmarks/paper_session_backtest.py on a tiny session: every figure it prints is the report's
(report.json, a report rebuilt from the run's store, and `mmbot backtest` rerun on its config),
and the baseline replayed on the recording it made gives the paper session's fills again."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from benchmarks.paper_session_backtest import (
    BASELINE_STRATEGY,
    COLUMNS,
    DEFAULT_CANDIDATE,
    LABELS,
    SeedJob,
    load_candidate,
    row_from_report,
    run_seed,
    table,
)
from bot.kernel.store import Store
from bot.reports.report import build_report
from tests.kit import child_env

HOURS = 0.03  # 108 simulated seconds: ~100 baseline fills, a few seconds of CPU per run


@pytest.fixture(scope="module")
def seed_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("psb")
    job = SeedJob(7, HOURS, 10.0, BASELINE_STRATEGY, DEFAULT_CANDIDATE, str(out))
    seed, rows = run_seed(job)
    return out / "seed7", seed, rows


def test_rows_have_every_column_for_paper_baseline_and_candidate(seed_run):
    _, seed, rows = seed_run
    assert seed == 7 and tuple(rows) == LABELS
    for label in LABELS:
        assert {name for name, _ in COLUMNS} <= rows[label].keys()
        assert rows[label]["fills"] > 10, label
        # horizons the session reaches are numbers; 5 min is past the end of a 108 s session
        assert math.isfinite(rows[label]["mo_1s_bps"]) and math.isnan(rows[label]["mo_300s_bps"])


def test_numbers_equal_the_reports_of_the_same_runs(seed_run):
    seed_dir, _, rows = seed_run
    for label in ("baseline", "candidate"):
        written = json.loads((seed_dir / label / "report.json").read_text())
        store = Store(f"sqlite:///{seed_dir / label / 'backtest.sqlite'}")
        try:
            rebuilt, _ = build_report(store, 0)  # the store holds this run only
            assert len(store.fills()) == rows[label]["fills"]
        finally:
            store.close()
        # the printed row is the report file's, and that of a report rebuilt from the run's store
        assert rows[label] == pytest.approx(row_from_report(written), rel=0, abs=0, nan_ok=True)
        assert rows[label] == pytest.approx(row_from_report(rebuilt), rel=1e-12, abs=1e-12, nan_ok=True)
        for name, (section, key) in COLUMNS:
            assert rows[label][name] == pytest.approx(rebuilt[section][key], rel=1e-12, abs=1e-12), name


def test_the_written_candidate_config_reruns_as_mmbot_backtest_with_the_same_figures(seed_run, tmp_path):
    seed_dir, _, rows = seed_run
    proc = subprocess.run(
        [sys.executable, "-m", "bot.cli", "backtest", "--config", str(seed_dir / "candidate.toml"),
         "--out", str(tmp_path / "cli")],
        env=child_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout[: proc.stdout.rindex("}") + 1])
    assert summary["fills"] == rows["candidate"]["fills"]
    assert summary["net_pnl"] == rows["candidate"]["pnl"]
    assert summary["adverse_selection_1m"] == rows["candidate"]["as_1m"]
    assert 'kind = "glft"' in (seed_dir / "candidate.toml").read_text()


def test_baseline_replayed_on_its_recording_gives_the_paper_sessions_fills(seed_run):
    _, _, rows = seed_run
    assert rows["baseline"]["fills"] == rows["paper"]["fills"]
    assert rows["baseline"]["pnl"] == pytest.approx(rows["paper"]["pnl"], rel=1e-9)


def test_table_prints_each_config_and_the_paired_ratios(seed_run):
    _, seed, rows = seed_run
    text = table({seed: rows})
    lines = text.splitlines()
    for label in LABELS:
        assert any(line.startswith(label) for line in lines), label
    pnl_line = next(line for line in lines if line.strip().startswith("pnl "))
    ratio = rows["candidate"]["pnl"] / rows["baseline"]["pnl"]
    assert f"{ratio:6.2f}" in pnl_line
    assert "baseline replay fills == paper session fills on 1/1 seeds" in text


def test_candidate_file_is_a_strategy_table_or_a_config_with_one_strategy(tmp_path):
    flat = tmp_path / "flat.toml"
    flat.write_text('kind = "glft"\nskew_at_max_inventory_bps = 4\n')
    assert load_candidate(flat) == {"kind": "glft", "skew_at_max_inventory_bps": 4}
    nested = tmp_path / "nested.toml"
    nested.write_text('[strategies.win]\nkind = "avellaneda"\nhorizon_s = 30\n')
    assert load_candidate(nested) == {"kind": "avellaneda", "horizon_s": 30}
    two = tmp_path / "two.toml"
    two.write_text('[strategies.a]\nkind = "glft"\n[strategies.b]\nkind = "glft"\n')
    with pytest.raises(SystemExit, match="exactly one"):
        load_candidate(two)
