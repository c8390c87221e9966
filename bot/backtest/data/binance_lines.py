"""A Binance websocket capture read in blocks of whole lines, each line's header fields found in one
compiled pass over its bytes: what the update-id sync needs, without building the message's
Python objects (a depth diff's level arrays are most of its bytes and all of orjson's time).

Per line: kind (a diff, a trade, a REST snapshot, another stream's line, or malformed), the
received time, E, U, u, pu, T, m, where the symbol's string and the JSON text are. Keys are found
at any depth (combined-stream or bare messages alike): a string token followed by a colon.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from bot.backtest.data.json_bytes import key_value, string_end
from connectors.replay.jit import njit

OTHER, DIFF, TRADE_MSG, SNAPSHOT_MSG, MALFORMED, MISSING = 0, 1, 2, 3, -1, -2
# columns of a line's header
H_KIND, H_TS, H_E, H_U, H_LAST_U, H_PU, H_T, H_M, H_SYM, H_SYM_END, H_BODY, H_END, H_CODE = range(13)
N_H = 13
_BLOCK_BYTES = 8 << 20
_NONE = -1


@njit
def _int_at(buf: np.ndarray, pos: int, end: int) -> int:
    """The integer at `pos` (quoted or not), or -1."""
    if pos < end and buf[pos] == 34:
        pos += 1
    value = 0
    digits = 0
    while pos < end and 48 <= buf[pos] <= 57:
        value = value * 10 + (buf[pos] - 48)
        digits += 1
        pos += 1
    return value if digits else _NONE


@njit
def _prefix(buf: np.ndarray, lo: int, end: int, h: np.ndarray) -> int:
    """`<local_ts_ns> {`: the received time into h, and where the JSON starts (-1: malformed,
    the kind OTHER for a blank line)."""
    h[:] = _NONE
    h[H_KIND] = MALFORMED
    h[H_END] = end
    pos = lo
    ts = 0
    while pos < end and 48 <= buf[pos] <= 57:
        ts = ts * 10 + (buf[pos] - 48)
        pos += 1
    if pos == lo or pos >= end or buf[pos] != 32:
        blank = True
        for k in range(lo, end):
            blank = blank and buf[k] in (32, 9, 13)
        h[H_KIND] = OTHER if blank else MALFORMED
        return -1
    while pos < end and buf[pos] == 32:
        pos += 1
    if pos >= end or buf[pos] != 123:  # {
        return -1
    h[H_TS], h[H_BODY] = ts, pos
    return pos


@njit
def _one_letter(buf: np.ndarray, c: int, v: int, end: int, h: np.ndarray, event: int) -> int:
    """The value of the one-letter key `c` at `v` into h; returns the event kind so far."""
    if c == 101 and v < end and buf[v] == 34 and event != SNAPSHOT_MSG:  # "e": the event's name
        w, f = _word_length(buf, v + 1, end), buf[v + 1]
        if w == 11 and f == 100:  # depthUpdate
            return DIFF
        if (w == 5 and f == 116) or (w == 8 and f == 97):  # trade, aggTrade
            return TRADE_MSG
    elif c == 69:
        h[H_E] = _int_at(buf, v, end)
    elif c == 85:
        h[H_U] = _int_at(buf, v, end)
    elif c == 117:
        h[H_LAST_U] = _int_at(buf, v, end)
    elif c == 84:
        h[H_T] = _int_at(buf, v, end)
    elif c == 109:
        h[H_M] = 1 if buf[v] == 116 else 0
    elif c == 115 and buf[v] == 34:
        h[H_SYM], h[H_SYM_END] = v + 1, v + 1 + _word_length(buf, v + 1, end)
        code = 0  # the symbol's bytes as a number (FNV-1a, 63 bits): its market, without Python
        for k in range(h[H_SYM], h[H_SYM_END]):
            code = ((code ^ buf[k]) * 1099511628211) & 0x7FFFFFFFFFFFFFFF
        h[H_CODE] = code
    return event


@njit
def _header(buf: np.ndarray, lo: int, end: int, h: np.ndarray) -> None:
    pos = _prefix(buf, lo, end, h)
    if pos < 0:
        return
    event = OTHER
    while pos < end:
        if buf[pos] != 34:
            pos += 1
            continue
        close = string_end(buf, pos, end)
        v = key_value(buf, close, end)
        if v >= 0:
            n, c = close - pos - 1, buf[pos + 1]
            if n == 1:
                event = _one_letter(buf, c, v, end, h, event)
            elif n == 2 and c == 112 and buf[pos + 2] == 117:  # "pu"
                h[H_PU] = _int_at(buf, v, end)
            elif n == 12 and c == 108:  # "lastUpdateId"
                event = SNAPSHOT_MSG
        pos = close + 1
    missing = event == DIFF and (h[H_E] < 0 or h[H_U] < 0 or h[H_LAST_U] < 0 or h[H_SYM] < 0)
    missing |= event == TRADE_MSG and (h[H_T] < 0 or h[H_M] < 0 or h[H_SYM] < 0)
    h[H_KIND] = MISSING if missing else event


@njit
def _word_length(buf: np.ndarray, pos: int, end: int) -> int:
    """Bytes of the string starting at `pos` (after its opening quote)."""
    k = pos
    while k < end and buf[k] != 34:
        k += 1
    return k - pos


@njit
def headers(buf: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The header of every line (`ends`: where each line's newline is)."""
    out = np.empty((len(ends), N_H), dtype=np.int64)
    lo = 0
    for i in range(len(ends)):
        _header(buf, lo, ends[i], out[i])
        lo = ends[i] + 1
    return out


@njit
def sync_run(
    heads: np.ndarray, i: int, codes: np.ndarray, state: np.ndarray, take: np.ndarray, n: int
) -> tuple[int, int]:  # codes: (symbol code, market) rows
    """From line i on, the lines the compiled path decides alone: trades, and diffs of a synced
    market that chain (U == u + 1; futures pu == u) or are already in its book (skipped). Their
    line numbers go to `take` (market in column 1); `state` holds each market's synced flag and
    last u. Returns (the first line Python must decide: a snapshot, a gap, a diff of an unsynced
    or unknown market, a bad line; or len(heads) at the end, lines taken so far)."""
    while i < len(heads):
        kind = heads[i, H_KIND]
        if kind == OTHER:
            i += 1
            continue
        if kind != DIFF and kind != TRADE_MSG:
            return i, n
        c = 0
        while c < len(codes) and codes[c, 0] != heads[i, H_CODE]:
            c += 1
        if c == len(codes):
            return i, n
        j = codes[c, 1]
        if kind == DIFF:
            if state[j, 0] == 0:
                return i, n
            last_u, pu = state[j, 1], heads[i, H_PU]
            if heads[i, H_LAST_U] <= last_u:
                i += 1
                continue
            if not (pu == last_u if pu >= 0 else heads[i, H_U] == last_u + 1):
                return i, n
            state[j, 1] = heads[i, H_LAST_U]
        take[n, 0], take[n, 1] = i, j
        n += 1
        i += 1
    return i, n


def blocks(path: Path, block_bytes: int = _BLOCK_BYTES) -> Iterator[tuple[bytes, np.ndarray]]:
    """(block of whole lines, each line's header), in order; memory stays at about one block."""
    with path.open("rb") as f:
        tail = b""
        while True:
            data = f.read(block_bytes)
            if not data:
                if tail.strip():
                    yield _parsed(tail + b"\n")
                return
            data = tail + data
            cut = data.rfind(b"\n") + 1
            tail = data[cut:]
            if cut:  # else one line longer than a block: read on
                yield _parsed(data[:cut])


def _parsed(data: bytes) -> tuple[bytes, np.ndarray]:
    buf = np.frombuffer(data, dtype=np.uint8)
    return data, headers(buf, np.flatnonzero(buf == 10))
