"""`mmbot sweep`: a parameter grid of backtests run in parallel on Ray, ranked by net PnL.

grid.toml maps dotted config paths to lists of values (`"strategies.mm.half_spread_bps" = [2, 3]`);
every combination is one backtest of the config with those values set, in its own folder under
--out. Each point is validated before anything starts, so a bad path or value is named up front.
"""

from __future__ import annotations

import argparse
import copy
import itertools
import json
import tomllib
from pathlib import Path
from typing import Any

from bot.app.config import validate_config
from bot.core.config_base import ConfigError

RANK_COLUMNS = ("net_pnl", "sharpe", "max_drawdown", "fill_rate", "fills", "orders")


class SweepError(ValueError):
    """A bad grid, a point the config refuses, or Ray missing; the message says which."""


def _flatten(node: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in node.items():
        path = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            out.update(_flatten(value, path))
        else:
            out[path] = value
    return out


def load_grid(path: Path) -> dict[str, list[Any]]:
    try:
        grid = _flatten(tomllib.loads(path.read_text(encoding="utf-8")))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SweepError(f"{path}: cannot read the grid ({exc})") from None
    if not grid:
        raise SweepError(f"{path}: the grid is empty")
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            raise SweepError(f"{path}: {key}: give a non-empty list of values")
    return grid


def set_path(data: dict[str, Any], dotted: str, value: Any) -> None:
    node: Any = data
    parts = dotted.split(".")
    for i, part in enumerate(parts[:-1]):
        if not isinstance(node, dict):
            raise SweepError(f"grid: {dotted}: {'.'.join(parts[:i])} is not a table")
        node = node.setdefault(part, {})  # an optional table (risk, bot); validation names typos
    if not isinstance(node, dict):
        raise SweepError(f"grid: {dotted}: {'.'.join(parts[:-1])} is not a table")
    node[parts[-1]] = value


def grid_points(
    raw: dict[str, Any], grid: dict[str, list[Any]], source: str
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(point, config dict) for every combination, each validated."""
    keys = list(grid)
    out = []
    for values in itertools.product(*(grid[k] for k in keys)):
        point = dict(zip(keys, values, strict=True))
        data = copy.deepcopy(raw)
        for key, value in point.items():
            set_path(data, key, value)
        try:
            validate_config(data, source)
        except ConfigError as exc:
            raise SweepError(f"grid point {point}: " + "; ".join(exc.problems)) from None
        out.append((point, data))
    return out


def run_point(data: dict[str, Any], config_dir: str, events: str, out_dir: str) -> dict[str, Any]:
    """One grid point's backtest (runs in a Ray worker)."""
    from bot.backtest.runner import run_backtest

    config = validate_config(data)
    return run_backtest(config, Path(config_dir), Path(out_dir), Path(events)).to_dict()


def rank(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    ranked = sorted(rows, key=lambda r: (-r["net_pnl"], -r["sharpe"]))
    return [dict(r, rank=i + 1) for i, r in enumerate(ranked)]


def to_markdown(rows: list[dict[str, Any]], keys: list[str]) -> str:
    head = ["rank", *keys, *RANK_COLUMNS]
    lines = ["# Sweep", "", "| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    for r in rows:
        cells = [str(r["rank"]), *(str(r["point"][k]) for k in keys)]
        cells += [f"{r[c]:.6g}" if isinstance(r[c], float) else str(r[c]) for c in RANK_COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join([*lines, ""])


def run_sweep(
    config_path: Path, events: Path, grid_path: Path, out_dir: Path, workers: int, address: str | None
) -> list[dict[str, Any]]:
    try:
        import ray
    except ImportError:
        raise SweepError("mmbot sweep needs Ray: pip install -e '.[sweep]' (this checkout)") from None
    if workers < 1:
        raise SweepError("--workers: must be at least 1")
    try:
        raw = tomllib.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SweepError(f"{config_path}: cannot read the config ({exc})") from None
    grid = load_grid(grid_path)
    points = grid_points(raw, grid, str(config_path))
    repo_root = str(Path(__file__).resolve().parents[2])
    init: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
    init["runtime_env"] = {"env_vars": {"PYTHONPATH": repo_root}}
    if address:
        init["address"] = address
    else:
        init["num_cpus"] = workers
    ray.init(**init)
    try:
        task = ray.remote(num_cpus=1)(run_point)
        pending: dict[Any, int] = {}
        results: dict[int, dict[str, Any]] = {}
        todo = list(enumerate(points))
        config_dir = str(config_path.resolve().parent)
        while todo or pending:
            while todo and len(pending) < workers:
                k, (_, data) = todo.pop(0)
                ref = task.remote(
                    data, config_dir, str(events.resolve()), str((out_dir / f"point-{k:03d}").resolve())
                )
                pending[ref] = k
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                results[pending.pop(ref)] = ray.get(ref)
    finally:
        ray.shutdown()
    rows = rank(
        [dict(results[k], point=point, folder=f"point-{k:03d}") for k, (point, _) in enumerate(points)]
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "sweep.json").write_text(json.dumps(rows, indent=2))
    (out_dir / "sweep.md").write_text(to_markdown(rows, list(grid)))
    return rows


def run_sweep_command(args: argparse.Namespace) -> int:
    out = Path(args.out)
    rows = run_sweep(Path(args.config), Path(args.data), Path(args.grid), out, args.workers, args.address)
    print(to_markdown(rows, list(rows[0]["point"]) if rows else []))
    print(f"table: {out / 'sweep.md'}, {out / 'sweep.json'}")
    return 0
