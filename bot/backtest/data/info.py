"""`mmbot data info`: what an event file holds, read one column at a time."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from connectors.replay.events import DEPTH, RESYNC, SNAPSHOT, TRADE, DataMeta, EventFileError, open_event_file


def _utc(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + "Z"


def describe(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    with open_event_file(path) as npz:
        if "meta" not in npz.files or "kind" not in npz.files:
            raise EventFileError(f"{path}: not an event file (no meta or kind column)")
        meta = DataMeta.from_json(str(npz["meta"]))
        notes = json.loads(str(npz["extra"])) if "extra" in npz.files else {}
        kind = npz["kind"]
        counts = {name: int(np.count_nonzero(kind == k)) for name, k in (
            ("depth", DEPTH), ("trade", TRADE), ("snapshot", SNAPSHOT), ("resync", RESYNC))}  # fmt: skip
        del kind
        local = npz["local_ts_ns"]
        start, end = (int(local[0]), int(local[-1])) if len(local) else (0, 0)
    return {
        "path": str(path),
        "venue": meta.venue,
        "symbol": meta.symbol,
        "rows": sum(counts.values()),
        "rows_by_kind": counts,
        "start": _utc(start) if start else None,
        "end": _utc(end) if end else None,
        "span_s": round((end - start) / 1e9, 3),
        "tick_size": str(meta.tick_size),
        "lot_size": str(meta.lot_size),
        "data_lot_size": str(meta.data_lot),
        "resync_markers": counts["resync"],
        "gaps": notes.get("gaps"),
        "crossed_books": notes.get("crossed_books"),
        "notes": notes,
    }


def render(info: dict[str, Any]) -> str:
    k = info["rows_by_kind"]
    lines = [
        f"{info['path']}: {info['venue']} {info['symbol']}",
        f"  rows            {info['rows']:,} (depth {k['depth']:,}, trade {k['trade']:,}, "
        f"snapshot {k['snapshot']:,}, resync {k['resync']:,})",
        f"  span            {info['start']} .. {info['end']} ({info['span_s']:,} s)",
        f"  tick / lot      {info['tick_size']} / {info['lot_size']} (data lot {info['data_lot_size']})",
        f"  gaps            {'n/a' if info['gaps'] is None else info['gaps']}",
        f"  resync markers  {info['resync_markers']}",
        f"  crossed books   {'n/a' if info['crossed_books'] is None else info['crossed_books']}",
    ]
    other = {key: v for key, v in info["notes"].items() if key not in ("gaps", "crossed_books")}
    if other:
        lines.append("  notes           " + ", ".join(f"{key}={v}" for key, v in sorted(other.items())))
    return "\n".join(lines)
