"""Exact, chunked CSV parsing for market data: bytes in, integer columns out, no Python per row.

A file is read in blocks of whole lines; one jitted pass turns each block into int64 columns.
Decimals are kept exact as (mantissa, decimals) pairs ("25.426189" -> 25426189, 6; "1e-05" ->
1, 5), never through floats. The caller says what each column is: skipped, integer, decimal,
boolean (true/1) or side (bid/buy -> +1, ask/sell -> -1, anything else 0).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bot.backtest.data.writer import POW10
from connectors.replay.events import EventFileError
from connectors.replay.jit import njit

SKIP, INT, DEC, BOOL, SIDE = 0, 1, 2, 3, 4
_BLOCK_BYTES = 8 << 20


@njit
def _number(buf: np.ndarray, pos: int, is_int: bool) -> tuple[int, int, int, bool]:
    """One numeric field from `pos`: (position after it, mantissa, decimals, well-formed)."""
    n = len(buf)
    mant = 0
    digits = 0
    decs = 0
    neg = False
    frac = False
    expo = 0
    in_exp = False
    exp_neg = False
    ok = True
    while pos < n and buf[pos] != 44 and buf[pos] != 10 and buf[pos] != 13:  # , \n \r end it
        c = buf[pos]
        pos += 1
        if 48 <= c <= 57:
            if in_exp:
                expo = expo * 10 + (c - 48)
            else:
                mant = mant * 10 + (c - 48)
                digits += 1
                decs += 1 if frac else 0
        elif c == 46 and not (frac or in_exp or is_int):  # .
            frac = True
        elif c == 45:  # -
            exp_neg = exp_neg or in_exp
            neg = neg or not in_exp
        elif c in (101, 69) and digits > 0:  # e E
            in_exp = True
        elif c not in (43, 34):  # + and quotes pass
            ok = False
    decs += expo if exp_neg else -expo
    while decs < 0:
        mant *= 10
        decs += 1
    return pos, -mant if neg else mant, decs, ok and digits > 0


@njit
def _flag(c: int, kind: int) -> int:
    """A BOOL (true/1) or SIDE (b... +1, a.../s... -1) field from its first byte."""
    if kind == BOOL:
        return 1 if c in (116, 84, 49) else 0
    if c in (98, 66):
        return 1
    return -1 if c in (97, 65, 115, 83) else 0


@njit
def _scan(buf: np.ndarray, types: np.ndarray, out: np.ndarray, dec: np.ndarray) -> int:
    """Parse every line of `buf` into out[row, col] (and dec[row, col] for decimals).

    Returns the rows parsed, or -(row + 1) for a line with too few columns or a bad number."""
    ncols = len(types)
    n = len(buf)
    pos = 0
    row = 0
    while pos < n:
        if buf[pos] == 10 or buf[pos] == 13:  # blank line
            pos += 1
            continue
        for col in range(ncols):
            t = types[col]
            if t in (INT, DEC):
                pos, mant, decs, ok = _number(buf, pos, t == INT)
                if not ok:
                    return -(row + 1)
                out[row, col] = mant
                dec[row, col] = decs
            else:
                if t != SKIP and pos < n:
                    out[row, col] = _flag(buf[pos], t)
                while pos < n and buf[pos] != 44 and buf[pos] != 10 and buf[pos] != 13:
                    pos += 1
            if col < ncols - 1:
                if pos >= n or buf[pos] != 44:
                    return -(row + 1)
                pos += 1
        while pos < n and buf[pos] != 10:  # columns past the ones asked for
            pos += 1
        pos += 1
        row += 1
    return row


@dataclass(frozen=True, slots=True)
class Block:
    """One block of parsed rows: `first_row` is the 1-based data row number of row 0."""

    first_row: int
    ints: np.ndarray  # (rows, columns) int64
    decs: np.ndarray  # (rows, columns) int64 decimals of DEC columns

    def __len__(self) -> int:
        return self.ints.shape[0]

    def decimal(self, col: int) -> tuple[np.ndarray, int]:
        """A decimal column as mantissas at one exponent (the block's finest)."""
        decs = self.decs[:, col]
        exp = int(decs.max()) if len(decs) else 0
        if exp > 18:
            raise EventFileError(f"row {self.first_row}: more than 18 decimals")
        ints = self.ints[:, col]
        if len(decs) and (decs == exp).all():
            return ints.copy(), exp
        return ints * POW10[exp - decs], exp


def header_of(path: Path) -> list[str] | None:
    """The header's column names, or None when the first line starts with a number."""
    with path.open("rb") as f:
        first = f.readline().decode("utf-8", "replace").strip()
    if not first or first[0].isdigit() or first[0] == "-":
        return None
    return [c.strip().strip('"') for c in first.split(",")]


def scan_blocks(
    path: Path, types: list[int], *, skip_header: bool, block_bytes: int = _BLOCK_BYTES
) -> Iterator[Block]:
    """Parsed blocks of the file, in order; a malformed line is an error naming its row."""
    type_arr = np.array(types, dtype=np.int64)
    row_no = 1
    with path.open("rb") as f:
        if skip_header:
            f.readline()
        tail = b""
        while True:
            data = f.read(block_bytes)
            if not data:
                if tail.strip():
                    yield _parse(path, tail + b"\n", type_arr, row_no)
                return
            data = tail + data
            cut = data.rfind(b"\n") + 1
            if cut == 0:  # one line longer than a block: read on
                tail = data
                continue
            tail = data[cut:]
            block = _parse(path, data[:cut], type_arr, row_no)
            row_no += len(block)
            yield block


def _parse(path: Path, data: bytes, types: np.ndarray, row_no: int) -> Block:
    buf = np.frombuffer(data, dtype=np.uint8)
    lines = int(np.count_nonzero(buf == 10))
    ints = np.zeros((lines, len(types)), dtype=np.int64)
    decs = np.zeros((lines, len(types)), dtype=np.int64)
    n = _scan(buf, types, ints, decs)
    if n < 0:
        raise EventFileError(f"{path}: row {row_no - n - 1}: not {len(types)} well-formed columns")
    return Block(row_no, ints[:n], decs[:n])
