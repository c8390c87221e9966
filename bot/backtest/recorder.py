"""Records one market's book and trade stream, as the bot receives it, into the L2 event format.

For any venue's feed; a paper session on a mock venue is recorded exactly, at every change, by
bot/backtest/paper_recorder.py instead. An engine listener (`engine.listeners.append(recorder)`):
book snapshots become depth rows for the levels that changed since the previous snapshot (0 for
levels that left it), public trades become trade rows. Our own resting orders are part of the
venue's book, so their size is taken out of each level: the file holds everyone else's
liquidity, and a replay adds ours back through its queue model. Rows go into preallocated
arrays; full chunks are kept and `save` writes the .npz.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bot.core.domain import Side
from bot.core.events import BookSnapshot, OrderUpdate, PublicTrade, VenueEvent
from connectors.replay.events import (
    ASK,
    BID,
    COLUMNS,
    DEPTH,
    TRADE,
    DataMeta,
    EventData,
    make_event_data,
    save_events,
)


class RowBuffer:
    """Event rows appended one at a time into preallocated column chunks (no object per row)."""

    def __init__(self, chunk_rows: int = 1 << 16) -> None:
        self._chunk_rows = chunk_rows
        self._chunks: list[dict[str, np.ndarray]] = []
        self._buf = self._new_chunk()
        self._n = 0

    def _new_chunk(self) -> dict[str, np.ndarray]:
        return {name: np.empty(self._chunk_rows, dtype=dtype) for name, dtype in COLUMNS.items()}

    def append(self, kind: int, side: int, exch_ns: int, local_ns: int, price: int, lots: int) -> None:
        if self._n == self._chunk_rows:
            self._chunks.append(self._buf)
            self._buf = self._new_chunk()
            self._n = 0
        b, i = self._buf, self._n
        b["kind"][i], b["side"][i], b["exch_ts_ns"][i] = kind, side, exch_ns
        b["local_ts_ns"][i], b["price_ticks"][i], b["size_lots"][i] = local_ns, price, lots
        self._n = i + 1

    def __len__(self) -> int:
        return len(self._chunks) * self._chunk_rows + self._n

    def data(self, meta: DataMeta) -> EventData:
        parts = [*self._chunks, {k: v[: self._n] for k, v in self._buf.items()}]
        cols = {name: np.concatenate([p[name] for p in parts]) for name in COLUMNS}
        return make_event_data(meta, **cols)


class BookRecorder:
    def __init__(self, meta: DataMeta, *, chunk_rows: int = 1 << 16) -> None:
        self.meta = meta
        self._rows = RowBuffer(chunk_rows)
        self._append = self._rows.append
        self._prev: dict[int, dict[int, int]] = {BID: {}, ASK: {}}
        self._own: dict[str, tuple[int, int, int]] = {}  # client id -> (side, price, remaining)

    def __call__(self, event: VenueEvent) -> None:
        if isinstance(event, OrderUpdate):
            if (event.venue, event.symbol) != (self.meta.venue, self.meta.symbol):
                return
            remaining = event.size_lots - event.filled_lots if event.state.is_live else 0
            if remaining > 0:
                side = BID if event.side is Side.BUY else ASK
                self._own[event.client_order_id] = (side, event.price_ticks, remaining)
            else:
                self._own.pop(event.client_order_id, None)
            return
        if not isinstance(event, BookSnapshot | PublicTrade):
            return
        if (event.venue, event.symbol) != (self.meta.venue, self.meta.symbol):
            return
        if isinstance(event, PublicTrade):
            aggressor = BID if event.aggressor is Side.BUY else ASK
            self._append(
                TRADE, aggressor, event.exchange_ts_ns, event.local_ts_ns, event.price_ticks, event.size_lots
            )
            return
        own: dict[tuple[int, int], int] = {}
        for side, price, lots in self._own.values():
            own[(side, price)] = own.get((side, price), 0) + lots
        for side, levels in ((BID, event.bids), (ASK, event.asks)):
            prev = self._prev[side]
            now: dict[int, int] = {}
            for price, lots in levels:
                others = lots - own.get((side, price), 0)
                if others > 0:
                    now[price] = others
            for price in prev.keys() - now.keys():
                self._append(DEPTH, side, event.exchange_ts_ns, event.local_ts_ns, price, 0)
            for price, lots in now.items():
                if prev.get(price) != lots:
                    self._append(DEPTH, side, event.exchange_ts_ns, event.local_ts_ns, price, lots)
            self._prev[side] = now

    def __len__(self) -> int:
        return len(self._rows)

    def data(self) -> EventData:
        return self._rows.data(self.meta)

    def save(self, path: str | Path) -> Path:
        return save_events(path, self.data())
