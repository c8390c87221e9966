"""One grid point of `mmbot sweep`, as a Ray worker runs it: no file of the driver's is needed.

The driver sends the point's config (a dict) and the bytes of each replay venue's event file; the
worker writes them into a temporary folder of its own, runs the backtest there, and returns the
summary with every file the backtest wrote (report.md/.json, charts, the SQLite store), which the
driver writes under its --out. A failure comes back as a value (the error and its traceback), so
one bad point never takes the sweep down. Plain Python: the Ray wrapper is in sweep_ray.py.
"""

from __future__ import annotations

import copy
import tempfile
import traceback
from pathlib import Path
from typing import Any

from bot.app.config import validate_config
from bot.backtest.runner import run_backtest


def run_point(data: dict[str, Any], blobs: dict[str, bytes], sources: dict[str, str]) -> dict[str, Any]:
    """Backtest the config `data` with each replay venue's event file given as bytes
    (`blobs`: venue -> bytes; `sources`: venue -> the driver's path, named in errors).

    Returns {"summary": ..., "files": {relative path: bytes}} or {"error": ..., "traceback": ...}.
    """
    with tempfile.TemporaryDirectory(prefix="mmbot-point-") as tmp:
        root = Path(tmp)
        local: dict[str, str] = {}
        data = copy.deepcopy(data)
        try:
            for venue, blob in blobs.items():
                path = root / "data" / f"{venue}.npz"
                path.parent.mkdir(exist_ok=True)
                path.write_bytes(blob)
                data["venues"][venue]["data"] = local[venue] = str(path)
            out = root / "out"
            summary = run_backtest(validate_config(data), root, out)
            # the instance lock file the run leaves beside its store is not part of the report
            files = {
                p.relative_to(out).as_posix(): p.read_bytes()
                for p in sorted(out.rglob("*"))
                if p.is_file() and p.suffix != ".lock"
            }
        except Exception as exc:  # any failure is this point's result, reported in the table
            return {
                "error": _driver_paths(f"{type(exc).__name__}: {exc}", local, sources),
                "traceback": _driver_paths(traceback.format_exc(), local, sources),
            }
    return {"summary": summary.to_dict(), "files": files}


def _driver_paths(text: str, local: dict[str, str], sources: dict[str, str]) -> str:
    """The error as the operator knows the files: the driver's paths, not the worker's copies."""
    for venue, path in local.items():
        text = text.replace(path, sources.get(venue, path))
    return text
