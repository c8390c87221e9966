"""The L2 event file: one row per depth update or trade, stored column by column in a numpy .npz.

Columns (all the same length, one entry per row):
  kind         int8   DEPTH (absolute size of one price level; 0 deletes it), TRADE, SNAPSHOT
                      (the venue published its book here: the depth rows before it are what that
                      publication showed; price_ticks is its best price, size_lots 0), or RESYNC
                      (the feed had a gap here; the depth rows after it, up to the next row of
                      another kind, are a fresh snapshot; price_ticks is a price of it, size_lots 0)
  side         int8   +1 bid / buy aggressor, -1 ask / sell aggressor
  exch_ts_ns   int64  when the exchange made the event
  local_ts_ns  int64  when we received it (never before exch_ts_ns); rows are in local order
  price_ticks  int64  price in ticks of `tick_size`
  size_lots    int64  level size (DEPTH) or traded size (TRADE) in lots of `data_lot_size`

plus `meta`, a JSON string: venue, symbol, base, quote, tick_size, lot_size (the trading lot our
orders use) and data_lot_size (the data's own granularity: real venues publish book and trade
quantities finer than their order lot; it divides lot_size, and equals it when absent), all
decimal strings; and `extra`, a JSON object (a converter's summary: gaps, crossed books...).
Integer ticks and lots keep the replay exact; Decimal appears only in the metadata.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

DEPTH = 1
TRADE = 2
SNAPSHOT = 3
RESYNC = 4
KINDS = (DEPTH, TRADE, SNAPSHOT, RESYNC)
BID = 1
ASK = -1

COLUMNS: dict[str, type] = {
    "kind": np.int8,
    "side": np.int8,
    "exch_ts_ns": np.int64,
    "local_ts_ns": np.int64,
    "price_ticks": np.int64,
    "size_lots": np.int64,
}
_META_KEYS = ("venue", "symbol", "base", "quote", "tick_size", "lot_size")


class EventFileError(ValueError):
    """A malformed event file or array set; the message names the column or key at fault."""


@dataclass(frozen=True, slots=True)
class DataMeta:
    venue: str
    symbol: str
    tick_size: Decimal
    lot_size: Decimal
    data_lot_size: Decimal | None = None
    """None: the data's sizes are in trading lots."""

    def __post_init__(self) -> None:
        if "/" not in self.symbol:
            raise EventFileError(f"meta symbol: {self.symbol!r} is not BASE/QUOTE")
        if self.tick_size <= 0 or self.lot_size <= 0:
            raise EventFileError("meta tick_size, lot_size: must be positive")
        if self.data_lot_size is not None and (
            self.data_lot_size <= 0 or (self.lot_size / self.data_lot_size) % 1 != 0
        ):
            raise EventFileError(
                f"meta data_lot_size: {self.data_lot_size} does not divide lot_size {self.lot_size}"
            )

    @property
    def data_lot(self) -> Decimal:
        """The size of one unit of size_lots."""
        return self.lot_size if self.data_lot_size is None else self.data_lot_size

    @property
    def lots_per_trading_lot(self) -> int:
        """Data units in one trading lot (1 when the data is on the trading lot)."""
        return int(self.lot_size / self.data_lot)

    @property
    def base(self) -> str:
        return self.symbol.split("/")[0]

    @property
    def quote(self) -> str:
        return self.symbol.split("/")[1]

    def to_json(self) -> str:
        fields = {
            "venue": self.venue,
            "symbol": self.symbol,
            "base": self.base,
            "quote": self.quote,
            "tick_size": str(self.tick_size),
            "lot_size": str(self.lot_size),
        }
        if self.data_lot_size is not None:
            fields["data_lot_size"] = str(self.data_lot_size)
        return json.dumps(fields)

    @classmethod
    def from_json(cls, text: str) -> DataMeta:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise EventFileError(f"meta: not JSON ({exc})") from None
        missing = [k for k in _META_KEYS if k not in data]
        if missing:
            raise EventFileError(f"meta: missing keys {missing}")
        data_lot = data.get("data_lot_size")
        return cls(
            data["venue"],
            data["symbol"],
            Decimal(data["tick_size"]),
            Decimal(data["lot_size"]),
            Decimal(data_lot) if data_lot is not None else None,
        )


@dataclass(frozen=True, slots=True)
class EventData:
    """A validated set of event columns and their market."""

    meta: DataMeta
    kind: np.ndarray
    side: np.ndarray
    exch_ts_ns: np.ndarray
    local_ts_ns: np.ndarray
    price_ticks: np.ndarray
    size_lots: np.ndarray
    extra: dict[str, Any] = field(default_factory=dict)
    """JSON-able notes stored with the file (a converter's summary)."""

    def __post_init__(self) -> None:
        n = len(self.kind)
        for name, col in self.columns().items():
            dtype = COLUMNS[name]
            if not isinstance(col, np.ndarray) or col.ndim != 1:
                raise EventFileError(f"column {name}: expected a 1-d numpy array")
            if col.dtype != dtype:
                raise EventFileError(f"column {name}: dtype {col.dtype}, expected {np.dtype(dtype)}")
            if len(col) != n:
                raise EventFileError(f"column {name}: {len(col)} rows, column kind has {n}")
        if n == 0:
            return
        bad = ~np.isin(self.kind, KINDS)
        if bad.any():
            raise EventFileError(f"column kind: row {int(np.argmax(bad))} is {self.kind[bad][0]}")
        bad = ~np.isin(self.side, (BID, ASK))
        if bad.any():
            raise EventFileError(f"column side: row {int(np.argmax(bad))} is {self.side[bad][0]}")
        if (self.price_ticks <= 0).any():
            raise EventFileError(f"column price_ticks: row {int(np.argmax(self.price_ticks <= 0))} <= 0")
        if (self.size_lots < 0).any():
            raise EventFileError(f"column size_lots: row {int(np.argmax(self.size_lots < 0))} < 0")
        backwards = np.diff(self.local_ts_ns) < 0
        if backwards.any():
            raise EventFileError(f"column local_ts_ns: goes backwards at row {int(np.argmax(backwards)) + 1}")
        if (self.local_ts_ns < self.exch_ts_ns).any():
            row = int(np.argmax(self.local_ts_ns < self.exch_ts_ns))
            raise EventFileError(f"column local_ts_ns: row {row} is received before exch_ts_ns")

    def __len__(self) -> int:
        return len(self.kind)

    def columns(self) -> dict[str, np.ndarray]:
        """Every column by name, in the file's order (COLUMNS)."""
        return {
            "kind": self.kind,
            "side": self.side,
            "exch_ts_ns": self.exch_ts_ns,
            "local_ts_ns": self.local_ts_ns,
            "price_ticks": self.price_ticks,
            "size_lots": self.size_lots,
        }

    @property
    def start_ns(self) -> int:
        return int(self.local_ts_ns[0]) if len(self) else 0

    @property
    def end_ns(self) -> int:
        return int(self.local_ts_ns[-1]) if len(self) else 0

    def exchange_order(self) -> np.ndarray:
        """Row indices in exchange-time order (stable), for the exchange side of the replay."""
        if len(self) < 2 or (np.diff(self.exch_ts_ns) >= 0).all():
            return np.arange(len(self), dtype=np.int64)
        return np.argsort(self.exch_ts_ns, kind="stable").astype(np.int64)


def make_event_data(meta: DataMeta, **columns: np.ndarray) -> EventData:
    """EventData from any array-likes, cast to the file's dtypes."""
    missing = [c for c in COLUMNS if c not in columns]
    if missing:
        raise EventFileError(f"missing columns {missing}")
    cast: dict[str, np.ndarray] = {
        name: np.ascontiguousarray(columns[name], dtype=dtype) for name, dtype in COLUMNS.items()
    }
    return EventData(
        meta,
        kind=cast["kind"],
        side=cast["side"],
        exch_ts_ns=cast["exch_ts_ns"],
        local_ts_ns=cast["local_ts_ns"],
        price_ticks=cast["price_ticks"],
        size_lots=cast["size_lots"],
    )


def save_events(path: str | Path, data: EventData) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Any: numpy's stub would match a ** dict against savez's own keyword `allow_pickle: bool`
    arrays: dict[str, Any] = data.columns()
    extra = json.dumps(data.extra)
    with path.open("wb") as f:
        np.savez(f, meta=np.array(data.meta.to_json()), extra=np.array(extra), **arrays)
    return path


def open_event_file(path: Path) -> Any:
    """The .npz of an event file, columns read lazily; an error naming the file if unreadable."""
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise EventFileError(f"{path}: cannot read an .npz event file ({exc})") from None


def load_events(path: str | Path) -> EventData:
    path = Path(path)
    with open_event_file(path) as npz:
        missing = [c for c in (*COLUMNS, "meta") if c not in npz.files]
        if missing:
            raise EventFileError(f"{path}: missing columns {missing}")
        meta = DataMeta.from_json(str(npz["meta"]))
        extra = json.loads(str(npz["extra"])) if "extra" in npz.files else {}
        try:
            return EventData(meta, **{name: npz[name] for name in COLUMNS}, extra=extra)
        except EventFileError as exc:
            raise EventFileError(f"{path}: {exc}") from None
