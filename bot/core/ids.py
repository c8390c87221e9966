"""Client order ids: ours, deterministic and prefixed per bot instance.

A restart tells its own orders from anyone else's by the prefix, and continues the sequence.
"""

from __future__ import annotations

import re

_CLIENT_ID_RE = re.compile(r"^[a-z0-9]{1,12}$")


def validate_instance_id(instance_id: str) -> str:
    if not _CLIENT_ID_RE.match(instance_id):
        raise ValueError("instance_id must be 1-12 lowercase letters or digits (it prefixes order ids)")
    return instance_id


def client_order_prefix(instance_id: str) -> str:
    return f"{instance_id}-"


def make_client_order_id(instance_id: str, seq: int) -> str:
    """Deterministic id `<instance>-<seq base36>`: under Binance's 36-char limit, sortable per bot."""
    return f"{client_order_prefix(instance_id)}{_base36(seq)}"


def client_order_seq(instance_id: str, client_order_id: str) -> int | None:
    prefix = client_order_prefix(instance_id)
    if not client_order_id.startswith(prefix):
        return None
    try:
        return int(client_order_id[len(prefix) :], 36)
    except ValueError:
        return None


def _base36(n: int) -> str:
    if n < 0:
        raise ValueError("sequence must be non-negative")
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out
