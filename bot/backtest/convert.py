"""Tardis-style CSVs to an in-memory EventData (tests, notebooks); `mmbot data convert tardis`
streams them to a file instead (bot/backtest/data/tardis.py), in constant memory."""

from __future__ import annotations

import tempfile
from pathlib import Path

from bot.backtest.data.tardis import convert_tardis_files
from connectors.replay.events import DataMeta, EventData, load_events


def convert_tardis(book_csv: str | Path, trades_csv: str | Path | None, meta: DataMeta) -> EventData:
    """Prices on `meta.tick_size`; sizes in `meta.lot_size`, or a finer data lot where the data is finer."""
    with tempfile.TemporaryDirectory(prefix="mmbot-convert-") as tmp:
        out = Path(tmp) / "events.npz"
        convert_tardis_files(
            Path(book_csv),
            Path(trades_csv) if trades_csv is not None else None,
            out,
            venue=meta.venue,
            symbol=meta.symbol,
            tick_size=meta.tick_size,
            lot_size=meta.lot_size,
        )
        return load_events(out)
