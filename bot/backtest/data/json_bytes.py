"""Jitted scanning of JSON text held as bytes (uint8 arrays): the pieces the Binance converters'
passes share (`binance_lines` reads line headers, `binance_book` reads levels and prints)."""

from __future__ import annotations

import numpy as np

from connectors.replay.jit import njit


@njit
def skip_ws(buf: np.ndarray, pos: int, end: int) -> int:
    while pos < end and buf[pos] in (32, 9, 10, 13):
        pos += 1
    return pos


@njit
def string_end(buf: np.ndarray, pos: int, end: int) -> int:
    """Where the string whose opening quote is at `pos` closes (`end` or past it: unclosed)."""
    close = pos + 1
    while close < end and buf[close] != 34:
        close += 2 if buf[close] == 92 else 1  # a backslash escapes the next byte
    return close


@njit
def key_value(buf: np.ndarray, close: int, end: int) -> int:
    """Where the value starts when the string closing at `close` is a key, else -1 (a key is
    followed by a colon; a value by `,` `}` or `]`)."""
    after = skip_ws(buf, close + 1, end)
    if after < end and buf[after] == 58:
        return skip_ws(buf, after + 1, end)
    return -1
