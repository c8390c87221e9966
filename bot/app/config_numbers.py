"""Number checks pydantic's lax mode lets through, run on every validated config.

Lax validation turns `true` into 1, `"inf"` into a float infinity and accepts any finite size for a
duration. Each of those loads fine and then breaks the running bot (NaN spreads, apscheduler
overflowing on a 1e300 s interval), so they are refused here with the field's dotted path.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Any

# Durations are capped well below what datetime/timedelta arithmetic can hold (year 9999).
_DURATION_LIMITS = {"_s": 1e9, "_ms": 1e12, "_days": 1e5}
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def path_key(key: str) -> str:
    """A key as written in a dotted path: quoted (TOML style) when it has spaces, dots or the like."""
    return key if _BARE_KEY.match(key) else '"' + key.replace('"', '\\"') + '"'


def join_path(parent: str, key: int | str) -> str:
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}.{path_key(key)}" if parent else path_key(key)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _duration_limit(key: int | str) -> float | None:
    if isinstance(key, str):
        for suffix, limit in _DURATION_LIMITS.items():
            if key.endswith(suffix):
                return limit
    return None


def number_problems(raw: Any, validated: Any, path: str = "", key: int | str = "") -> list[str]:
    """Walk the file's data and the validated model's dump side by side; one line per problem."""
    if isinstance(validated, dict):
        if not isinstance(raw, dict):
            return []
        out: list[str] = []
        for k, value in validated.items():
            if k in raw:
                out += number_problems(raw[k], value, join_path(path, k), k)
        return out
    if isinstance(validated, list | tuple):
        if not isinstance(raw, list):
            return []
        pairs = zip(raw, validated, strict=False)
        return [p for i, (r, v) in enumerate(pairs) for p in number_problems(r, v, join_path(path, i), i)]
    if isinstance(raw, bool) and not isinstance(validated, bool):
        return [f"{path}: expected a number, got the boolean {str(raw).lower()}"]
    if _is_number(raw) and isinstance(validated, bool):
        return [f"{path}: expected true or false, got {raw}"]
    if _is_number(validated):
        if not math.isfinite(validated):
            return [f"{path}: must be a finite number, got {validated}"]
        limit = _duration_limit(key)
        if limit is not None and validated > limit:
            return [f"{path}: must be at most {limit:g}, got {validated}"]
    return []
