"""Writes an L2 event file (connectors/replay/events.py) chunk by chunk, in constant memory.

Converters and the recorder hand over rows in chunks, prices and sizes as exact decimals (integer
mantissas with a power-of-ten exponent per chunk). The grid is decided when the file is closed,
once every value has been seen: prices in ticks of the given tick size (or of the finest price
step in the data), sizes in trading lots when every size is a multiple of the lot, else in a data
lot of 10^-k (the finest step seen, never coarser than the lot) stored in the metadata. Nothing is
rounded, and real venues' book sizes finer than their order lot are kept as they are.

Chunks wait in raw column files next to the output and are streamed into the .npz at close.
Time is repaired, not refused: a received time that goes backwards is raised to the previous one
and an exchange time after its received time is lowered to it; both are counted in the summary.
"""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from connectors.replay.events import COLUMNS, DataMeta, EventFileError

POW10 = np.array([10**k for k in range(19)], dtype=np.int64)
_BLOCK_ROWS = 1 << 20


def decimal_parts(value: Decimal) -> tuple[int, int]:
    """(mantissa, exponent) with value == mantissa * 10**-exponent and exponent >= 0."""
    sign, digits, exp = value.normalize().as_tuple()
    assert isinstance(exp, int)
    mantissa = int("".join(map(str, digits)) or "0") * (-1 if sign else 1)
    if exp > 0:
        return mantissa * 10**exp, 0
    return mantissa, -exp


def rescale(ints: np.ndarray, from_exp: int, to_exp: int) -> np.ndarray:
    """Mantissas at 10**-from_exp as mantissas at 10**-to_exp (to_exp >= from_exp: exact)."""
    if to_exp == from_exp:
        return ints
    if to_exp - from_exp > 18:
        raise EventFileError(f"decimals: more than 18 digits of scale ({from_exp} -> {to_exp})")
    return ints * POW10[to_exp - from_exp]


def normalize(ints: np.ndarray, exp: int) -> tuple[np.ndarray, int]:
    """The same values at the smallest exponent that writes them exactly (trailing zeros dropped)."""
    for k in range(exp, 0, -1):
        if not (ints % POW10[k]).any():
            return ints // POW10[k], exp - k
    return ints, exp


def off_step(ints: np.ndarray, exp: int, step: Decimal) -> int:
    """Index of the first value that is not a multiple of `step`, or -1."""
    s_int, s_exp = decimal_parts(step)
    e = max(exp, s_exp)
    bad = np.flatnonzero(rescale(ints, exp, e) % (s_int * 10 ** (e - s_exp)))
    return int(bad[0]) if len(bad) else -1


def in_steps(ints: np.ndarray, exp: int, step: Decimal) -> np.ndarray:
    """Values that are multiples of `step`, in steps (check with `off_step` first)."""
    s_int, s_exp = decimal_parts(step)
    e = max(exp, s_exp)
    return rescale(ints, exp, e) // (s_int * 10 ** (e - s_exp))


@dataclass(frozen=True, slots=True)
class _Chunk:
    rows: int
    price_exp: int
    size_exp: int


@dataclass(slots=True)
class WriteSummary:
    path: Path
    meta: DataMeta
    rows: int
    notes: dict[str, Any] = field(default_factory=dict)


class EventWriter:
    def __init__(
        self,
        path: str | Path,
        venue: str,
        symbol: str,
        *,
        tick_size: Decimal | None,
        lot_size: Decimal | None,
        strict_tick: bool = True,
    ) -> None:
        """`strict_tick`: a price off `tick_size` is an error at close (a converter's --tick);
        else the file falls back to the data's own price step and says so in its notes."""
        self.path = Path(path)
        self.venue, self.symbol = venue, symbol
        self.tick_size, self.lot_size, self.strict_tick = tick_size, lot_size, strict_tick
        self.notes: dict[str, Any] = {"local_ts_raised": 0, "exch_ts_lowered": 0}
        self.rows = 0
        self._chunks: list[_Chunk] = []
        self._off_tick: str | None = None
        self._all_on_lot = True
        self._last_local = -(1 << 62)
        self._tmp = self.path.with_name(self.path.name + ".parts")
        if self._tmp.exists():
            shutil.rmtree(self._tmp)
        self._tmp.mkdir(parents=True)
        self._files = {name: (self._tmp / name).open("wb") for name in COLUMNS}

    def add(
        self,
        kind: np.ndarray,
        side: np.ndarray,
        exch_ns: np.ndarray,
        local_ns: np.ndarray,
        price: np.ndarray,
        price_exp: int,
        size: np.ndarray,
        size_exp: int,
    ) -> None:
        n = len(kind)
        if n == 0:
            return
        local = np.maximum.accumulate(np.concatenate(([self._last_local], local_ns.astype(np.int64))))[1:]
        self.notes["local_ts_raised"] += int(np.count_nonzero(local != local_ns))
        exch = np.minimum(exch_ns.astype(np.int64), local)
        self.notes["exch_ts_lowered"] += int(np.count_nonzero(exch != exch_ns))
        self._last_local = int(local[-1])
        price = price.astype(np.int64, copy=False)
        size = size.astype(np.int64, copy=False)
        if (price <= 0).any():
            raise EventFileError(f"price: {price[price <= 0][0]} (x 10^-{price_exp}) is not positive")
        if (size < 0).any():
            raise EventFileError(f"size: {size[size < 0][0]} (x 10^-{size_exp}) is negative")
        price, price_exp = normalize(price, price_exp)
        size, size_exp = normalize(size, size_exp)
        if self.tick_size is not None and self._off_tick is None:
            bad = off_step(price, price_exp, self.tick_size)
            if bad >= 0:
                self._off_tick = str(Decimal(int(price[bad])).scaleb(-price_exp))
        if self.lot_size is not None and self._all_on_lot:
            self._all_on_lot = off_step(size, size_exp, self.lot_size) < 0
        for name, col in (
            ("kind", kind),
            ("side", side),
            ("exch_ts_ns", exch),
            ("local_ts_ns", local),
            ("price_ticks", price),
            ("size_lots", size),
        ):
            np.ascontiguousarray(col, dtype=COLUMNS[name]).tofile(self._files[name])
        self._chunks.append(_Chunk(n, price_exp, size_exp))
        self.rows += n

    def close(self, notes: dict[str, Any] | None = None) -> WriteSummary:
        """Streams every chunk into the .npz at its final grid; returns what was written."""
        for f in self._files.values():
            f.close()
        try:
            meta, price_grid, size_grid = self._grid()
            self.notes.update(notes or {})
            partial = self.path.with_name(self.path.name + ".partial")
            with zipfile.ZipFile(partial, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
                _write_array(zf, "meta", np.array(meta.to_json()))
                _write_array(zf, "extra", np.array(json.dumps(self.notes, sort_keys=True)))
                for name, dtype in COLUMNS.items():
                    grid = price_grid if name == "price_ticks" else size_grid if name == "size_lots" else None
                    self._stream_column(zf, name, np.dtype(dtype), grid)
            os.replace(partial, self.path)
        finally:
            shutil.rmtree(self._tmp, ignore_errors=True)
        return WriteSummary(self.path, meta, self.rows, dict(self.notes))

    def abort(self) -> None:
        for f in self._files.values():
            f.close()
        shutil.rmtree(self._tmp, ignore_errors=True)

    # ---- internals -----------------------------------------------------------------------------

    def _grid(self) -> tuple[DataMeta, Decimal, Decimal]:
        """The metadata, the price step and the size step of the file."""
        p_max = max((c.price_exp for c in self._chunks), default=0)
        s_max = max((c.size_exp for c in self._chunks), default=0)
        data_price_step = Decimal(1).scaleb(-p_max)
        tick = self.tick_size or data_price_step
        if self._off_tick is not None:
            if self.strict_tick:
                raise EventFileError(f"price: {self._off_tick} is not a multiple of the tick {tick}")
            self.notes["tick_fallback"] = f"prices finer than the tick {tick}: ticks of {data_price_step}"
            tick = data_price_step
        lot = self.lot_size or Decimal(1).scaleb(-s_max)
        data_lot: Decimal | None = None
        if not self._all_on_lot:
            data_lot = Decimal(1).scaleb(-max(s_max, decimal_parts(lot)[1]))
        meta = DataMeta(self.venue, self.symbol, tick, lot, data_lot)
        return meta, tick, meta.data_lot

    def _stream_column(self, zf: zipfile.ZipFile, name: str, dtype: np.dtype, grid: Decimal | None) -> None:
        header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": (self.rows,)}
        with zf.open(f"{name}.npy", "w", force_zip64=True) as out, (self._tmp / name).open("rb") as src:
            np.lib.format.write_array_header_2_0(out, header)
            for chunk in self._chunks:
                exp = chunk.price_exp if name == "price_ticks" else chunk.size_exp
                left = chunk.rows
                while left:
                    n = min(left, _BLOCK_ROWS)
                    block = np.fromfile(src, dtype=dtype, count=n)
                    if grid is not None:
                        block = in_steps(block, exp, grid)
                    out.write(np.ascontiguousarray(block, dtype=dtype).tobytes())
                    left -= n


def _write_array(zf: zipfile.ZipFile, name: str, value: np.ndarray) -> None:
    with zf.open(f"{name}.npy", "w") as out:
        np.lib.format.write_array(out, value, allow_pickle=False)
