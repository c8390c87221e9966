"""Binance request signing, checked the way Binance checks it: API key, HMAC-SHA256, recvWindow.

Each API key belongs to one account of the mock exchange (`KeyRing`): the key a request carries
says whose orders, fills and balances it acts on.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from urllib.parse import parse_qsl

from connectors.mock.facade.codec import BinanceError
from connectors.mock.venue import DEFAULT_ACCOUNT

MAX_RECV_WINDOW_MS = 60_000
DEFAULT_RECV_WINDOW_MS = 5_000
FUTURE_TOLERANCE_MS = 1_000


class Credentials:
    """One API key / secret pair and the account it acts on (the secret never leaves this object)."""

    def __init__(self, api_key: str, api_secret: str, account_id: str = DEFAULT_ACCOUNT) -> None:
        if not api_key or not api_secret:
            raise ValueError(f"account {account_id!r}: the facade needs a non-empty API key and secret")
        self.api_key = api_key
        self._secret = api_secret.encode()
        self.account_id = account_id

    def __repr__(self) -> str:
        return f"Credentials(account_id={self.account_id!r})"

    def sign(self, payload: str) -> str:
        return hmac.new(self._secret, payload.encode(), hashlib.sha256).hexdigest()

    def check_signature(self, payload: str, signature: str | None) -> None:
        if not signature:
            raise BinanceError(
                400, -1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed."
            )
        if not hmac.compare_digest(self.sign(payload).encode(), signature.lower().encode()):
            raise BinanceError(400, -1022, "Signature for this request is not valid.")


class KeyRing:
    """Every API key the facade accepts, each with its account."""

    def __init__(self, accounts: Iterable[Credentials]) -> None:
        self._all = list(accounts)
        if not self._all:
            raise ValueError("the facade needs at least one API key")
        seen: dict[str, str] = {}
        for credentials in self._all:
            if credentials.account_id in seen.values():
                raise ValueError(f"account id {credentials.account_id!r} given twice")
            other = seen.setdefault(credentials.api_key, credentials.account_id)
            if other != credentials.account_id:
                raise ValueError(f"accounts {other!r} and {credentials.account_id!r} have the same API key")

    @property
    def account_ids(self) -> list[str]:
        return [c.account_id for c in self._all]

    def check_key(self, api_key: str | None) -> Credentials:
        """The credentials of `api_key`; Binance's -2015 for a key we do not know."""
        found = None
        if api_key is not None:
            # Bytes: compare_digest refuses str with non-ASCII characters (a TypeError, a 500).
            # Every key is compared, so the time taken does not tell which one matched.
            for credentials in self._all:
                if hmac.compare_digest(api_key.encode(), credentials.api_key.encode()):
                    found = credentials
        if found is None:
            raise BinanceError(401, -2015, "Invalid API-key, IP, or permissions for action.")
        return found


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
