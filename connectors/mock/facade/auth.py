"""Binance request signing, checked the way Binance checks it: API key, HMAC-SHA256, recvWindow."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from urllib.parse import parse_qsl

from connectors.mock.facade.codec import BinanceError

MAX_RECV_WINDOW_MS = 60_000
DEFAULT_RECV_WINDOW_MS = 5_000
FUTURE_TOLERANCE_MS = 1_000


class Credentials:
    """The one API key / secret pair the facade accepts (the secret never leaves this object)."""

    def __init__(self, api_key: str, api_secret: str) -> None:
        if not api_key or not api_secret:
            raise ValueError("the facade needs a non-empty API key and secret")
        self.api_key = api_key
        self._secret = api_secret.encode()

    def sign(self, payload: str) -> str:
        return hmac.new(self._secret, payload.encode(), hashlib.sha256).hexdigest()

    def check_key(self, api_key: str | None) -> None:
        # Bytes: compare_digest refuses str with non-ASCII characters (a TypeError, a 500).
        if api_key is None or not hmac.compare_digest(api_key.encode(), self.api_key.encode()):
            raise BinanceError(401, -2015, "Invalid API-key, IP, or permissions for action.")

    def check_signature(self, payload: str, signature: str | None) -> None:
        if not signature:
            raise BinanceError(
                400, -1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed."
            )
        if not hmac.compare_digest(self.sign(payload).encode(), signature.lower().encode()):
            raise BinanceError(400, -1022, "Signature for this request is not valid.")


def check_timestamp(params: Mapping[str, str], now_ms: int) -> None:
    raw_ts = params.get("timestamp")
    if raw_ts is None:
        raise BinanceError(
            400, -1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed."
        )
    try:
        ts = int(raw_ts)
        window = int(params.get("recvWindow", DEFAULT_RECV_WINDOW_MS))
    except ValueError:
        raise BinanceError(
            400, -1100, "Illegal characters found in parameter 'timestamp' or 'recvWindow'."
        ) from None
    if window <= 0 or window > MAX_RECV_WINDOW_MS:
        raise BinanceError(400, -1131, "recvWindow must be less than 60000")
    if ts >= now_ms + FUTURE_TOLERANCE_MS or now_ms - ts > window:
        raise BinanceError(400, -1021, "Timestamp for this request is outside of the recvWindow.")


def split_signed(total_params: str) -> tuple[str, str | None, dict[str, str]]:
    """(payload that was signed, signature, decoded params) of a query string + body.

    The signature is HMAC over the raw text of every other parameter, in the order sent.
    """
    raw_pairs = [p for p in total_params.split("&") if p]
    signature = None
    kept = []
    for pair in raw_pairs:
        if pair.startswith("signature="):
            signature = pair[len("signature=") :]
        else:
            kept.append(pair)
    pairs = parse_qsl("&".join(kept), keep_blank_values=True)
    params = dict(pairs)
    if len(params) < len(pairs) or sum(p.startswith("signature=") for p in raw_pairs) > 1:
        raise BinanceError(400, -1101, "Duplicate values for a parameter detected.")
    return "&".join(kept), signature, params


def ws_signed_payload(params: Mapping[str, object]) -> str:
    """What the WS-API signs: every param but the signature, sorted by key, as k=v joined by &."""
    return "&".join(f"{k}={params[k]}" for k in sorted(params) if k != "signature")
