"""Venue symbols (BTCUSDT) to ours (BTC/USDT), and per-symbol options given on the command line."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from connectors.replay.events import EventFileError

_QUOTES = (
    "FDUSD",
    "USDT",
    "USDC",
    "BUSD",
    "TUSD",
    "DAI",
    "EUR",
    "TRY",
    "BRL",
    "JPY",
    "BTC",
    "ETH",
    "BNB",
    "USD",
)


def unified_symbol(raw: str, names: dict[str, str]) -> str:
    """`names` first (RAW -> BASE/QUOTE), else a split at a known quote asset."""
    raw = raw.upper()
    if raw in names:
        return names[raw]
    if "/" in raw:
        return raw
    for quote in _QUOTES:
        if raw.endswith(quote) and len(raw) > len(quote):
            return f"{raw[: -len(quote)]}/{quote}"
    raise EventFileError(f"symbol {raw}: cannot tell base from quote; give --symbol {raw}=BASE/QUOTE")


def per_symbol(values: list[str] | None, field: str) -> tuple[Decimal | None, dict[str, Decimal]]:
    """`--tick 0.01` (every symbol) and `--tick BTCUSDT=0.01` (one symbol) forms."""
    default: Decimal | None = None
    named: dict[str, Decimal] = {}
    for item in values or []:
        key, _, text = item.rpartition("=")
        try:
            value = Decimal(text)
        except InvalidOperation:
            raise EventFileError(f"--{field} {item!r}: {text!r} is not a number") from None
        if value <= 0:
            raise EventFileError(f"--{field} {item!r}: must be positive")
        if key:
            named[key.upper().replace("/", "")] = value
        else:
            default = value
    return default, named


def symbol_names(values: list[str] | None) -> dict[str, str]:
    out = {}
    for item in values or []:
        raw, _, ours = item.partition("=")
        if "/" not in ours:
            raise EventFileError(f"--symbol {item!r}: expected RAW=BASE/QUOTE, e.g. BTCUSDT=BTC/USDT")
        out[raw.upper()] = ours
    return out


def file_for(pattern: str, symbol: str, several: bool) -> str:
    """The output path of one symbol: `{symbol}` in the pattern becomes BASE-QUOTE."""
    if "{symbol}" not in pattern:
        if several:
            raise EventFileError(f"--out {pattern}: several symbols in the input; put {{symbol}} in the path")
        return pattern
    return pattern.replace("{symbol}", symbol.replace("/", "-"))
