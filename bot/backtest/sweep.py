"""`mmbot sweep`: a parameter grid of backtests run in parallel on Ray, ranked (sweep_table.py).

grid.toml maps dotted config paths to lists of values (`"strategies.mm.half_spread_bps" = [2, 3]`);
every combination is one backtest of the config with those values set. Each point is validated
before anything starts, so a bad path or value is named up front. The driver reads the event
files and ships them through Ray (sweep_ray.py); every point's report comes back into its own
folder under --out, a failed point's error into its row and its folder's error.txt.
"""

from __future__ import annotations

import argparse
import copy
import itertools
import json
import shutil
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.app.config import validate_config
from bot.backtest.sweep_ray import PointTask, RayPlan, RayUnavailable, run_on_ray
from bot.backtest.sweep_table import rank, row_of, to_markdown
from bot.core.config_base import ConfigError
from connectors.replay.params import ReplayVenueParams


class SweepError(ValueError):
    """A bad grid, a point the config refuses, an unreadable event file, or Ray missing or
    unreachable; the message says which."""


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


def data_files(data: dict[str, Any], config_dir: Path, override: Path | None, source: str) -> dict[str, Path]:
    """Each replay venue's event file for one point (venue -> the driver's path): `--data` for
    the one replay venue, else the config's (or the grid's) `data`, relative to the config."""
    config = validate_config(data, source)
    replay = {name: v for name, v in config.venues.items() if isinstance(v, ReplayVenueParams)}
    if not replay:
        raise SweepError(f'{source}: venues: a sweep needs a venue with kind = "replay"')
    if override is not None:
        if len(replay) > 1:
            raise SweepError(f"--data: the config has {len(replay)} replay venues; set each one's data")
        return {next(iter(replay)): override.resolve()}
    out = {}
    for name, params in replay.items():
        path = Path(params.data)
        out[name] = path if path.is_absolute() else (config_dir / path).resolve()
    return out


def read_data_files(paths: list[Path]) -> dict[str, bytes]:
    """The bytes of each event file, read once on the driver: the workers get them through Ray."""
    out = {}
    for path in paths:
        try:
            out[str(path)] = path.read_bytes()
        except OSError as exc:
            raise SweepError(f"{path}: cannot read the event file ({exc.strerror})") from None
    return out


def write_point(out_dir: Path, row: dict[str, Any], result: dict[str, Any]) -> None:
    """A point's files under the driver's --out, replacing what an earlier sweep left there."""
    folder = out_dir / row["folder"]
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for name, blob in result.get("files", {}).items():
        path = (folder / name).resolve()
        if not path.is_relative_to(folder.resolve()):  # names come from a worker: stay inside
            raise SweepError(f"{row['folder']}: refusing to write {name} outside the point's folder")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(blob)
    if "error" in result:
        (folder / "error.txt").write_text(result.get("traceback") or result["error"], encoding="utf-8")


def run_sweep(
    config_path: Path,
    events: Path | None,
    grid_path: Path,
    out_dir: Path,
    plan: RayPlan,
    log: Callable[[str], None] = print,
) -> list[dict[str, Any]]:
    """Validate every point, ship the data, run the points on Ray, write each point's files and
    the ranked table under `out_dir`; the ranked rows (failed points included)."""
    if plan.workers is not None and plan.workers < 1:
        raise SweepError("--workers: must be at least 1")
    try:
        raw = tomllib.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SweepError(f"{config_path}: cannot read the config ({exc})") from None
    grid = load_grid(grid_path)
    points = grid_points(raw, grid, str(config_path))
    config_dir = config_path.resolve().parent
    tasks = []
    for index, (point, data) in enumerate(points):
        files = data_files(data, config_dir, events, f"grid point {point}")
        tasks.append(PointTask(index, data, {venue: str(path) for venue, path in files.items()}))
    blobs = read_data_files(sorted({Path(key) for t in tasks for key in t.files.values()}))
    rows: list[dict[str, Any]] = []

    def collect(index: int, result: dict[str, Any]) -> None:
        row = row_of(index, points[index][0], result)
        write_point(out_dir, row, result)
        log(f"{row['folder']}: " + (f"failed: {row['error']}" if "error" in row else "done"))
        rows.append(row)

    try:
        run_on_ray(tasks, blobs, plan, collect, log)
    except RayUnavailable as exc:
        raise SweepError(str(exc)) from None
    ranked = rank(rows)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "sweep.json").write_text(json.dumps(ranked, indent=2))
    (out_dir / "sweep.md").write_text(to_markdown(ranked, list(grid)))
    return ranked


def parse_resources(items: list[str] | None) -> dict[str, float]:
    out = {}
    for item in items or []:
        name, sep, amount = item.partition("=")
        try:
            out[name.strip()] = float(amount) if sep else 1.0
        except ValueError:
            raise SweepError(f"--resource {item}: give NAME or NAME=AMOUNT") from None
        if not name.strip() or out[name.strip()] <= 0:
            raise SweepError(f"--resource {item}: give NAME or NAME=AMOUNT with AMOUNT > 0")
    return out


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)  # stdout carries only the table


def run_sweep_command(args: argparse.Namespace) -> int:
    """0: every point ran; 1: some failed (each named in the table, its traceback in its folder)."""
    out = Path(args.out)
    plan = RayPlan(args.address, args.workers, parse_resources(args.resource))
    data = Path(args.data) if args.data else None
    rows = run_sweep(Path(args.config), data, Path(args.grid), out, plan, log=_progress)
    print(to_markdown(rows, list(rows[0]["point"]) if rows else []))
    print(f"table: {out / 'sweep.md'}, {out / 'sweep.json'}")
    failed = [r for r in rows if "error" in r]
    if failed:
        print(f"{len(failed)} of {len(rows)} points failed", file=sys.stderr)
        return 1
    return 0
