"""Rows on their way to an event file: columns with exact decimal prices and sizes, and the
merge of several time-ordered sources (book and trades files) into one received-time order."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from bot.backtest.data.writer import EventWriter, rescale


@dataclass(frozen=True, slots=True)
class Rows:
    """Event rows; price = price * 10**-price_exp and size = size * 10**-size_exp, exactly."""

    kind: np.ndarray
    side: np.ndarray
    exch_ns: np.ndarray
    local_ns: np.ndarray
    price: np.ndarray
    price_exp: int
    size: np.ndarray
    size_exp: int

    def __len__(self) -> int:
        return len(self.kind)

    def take(self, index: np.ndarray | slice) -> Rows:
        return Rows(
            self.kind[index], self.side[index], self.exch_ns[index], self.local_ns[index],
            self.price[index], self.price_exp, self.size[index], self.size_exp,
        )  # fmt: skip

    def write_to(self, writer: EventWriter) -> None:
        writer.add(
            self.kind, self.side, self.exch_ns, self.local_ns,
            self.price, self.price_exp, self.size, self.size_exp,
        )  # fmt: skip


def concat(parts: list[Rows]) -> Rows:
    """One Rows of several, at the finest exponents among them."""
    parts = [p for p in parts if len(p)] or parts[:1]
    pe = max(p.price_exp for p in parts)
    se = max(p.size_exp for p in parts)
    return Rows(
        np.concatenate([p.kind for p in parts]).astype(np.int8, copy=False),
        np.concatenate([p.side for p in parts]).astype(np.int8, copy=False),
        np.concatenate([p.exch_ns for p in parts]),
        np.concatenate([p.local_ns for p in parts]),
        np.concatenate([rescale(p.price, p.price_exp, pe) for p in parts]),
        pe,
        np.concatenate([rescale(p.size, p.size_exp, se) for p in parts]),
        se,
    )


def rows_of(
    kind: int | np.ndarray,
    side: np.ndarray,
    exch_ns: np.ndarray,
    local_ns: np.ndarray,
    price: np.ndarray,
    price_exp: int,
    size: np.ndarray,
    size_exp: int,
) -> Rows:
    n = len(side)
    kinds = np.full(n, kind, dtype=np.int8) if isinstance(kind, int) else kind.astype(np.int8)
    return Rows(
        kinds, side.astype(np.int8), exch_ns.astype(np.int64), local_ns.astype(np.int64),
        price.astype(np.int64), price_exp, size.astype(np.int64), size_exp,
    )  # fmt: skip


def merge_by_local_time(sources: list[Iterable[Rows]]) -> Iterator[Rows]:
    """Rows of every source in received-time order; on equal times, the earlier source first.

    Each source is in received-time order itself; only the rows every source has reached are
    merged at each step, so memory stays at a few chunks per source."""
    its = [iter(s) for s in sources]
    pending: list[Rows | None] = [None] * len(its)
    done = [False] * len(its)
    while True:
        for k, it in enumerate(its):
            while not done[k] and (pending[k] is None or len(pending[k]) == 0):  # type: ignore[arg-type]
                nxt = next(it, None)
                if nxt is None:
                    done[k] = True
                else:
                    pending[k] = nxt
        live = [p for p in pending if p is not None and len(p)]
        if not live:
            return
        cutoff = min(
            (int(p.local_ns[-1]) for k, p in enumerate(pending) if p is not None and len(p) and not done[k]),
            default=1 << 62,
        )
        parts: list[Rows] = []
        for k, p in enumerate(pending):
            if p is None or not len(p):
                continue
            mask = p.local_ns <= cutoff
            parts.append(p.take(mask))
            pending[k] = p.take(~mask)
        merged = concat(parts)
        order = np.argsort(merged.local_ns, kind="stable")
        yield merged.take(order)
