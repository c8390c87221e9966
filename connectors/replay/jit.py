"""`njit` from numba when installed (the `backtest` extra), else a no-op: same code, slower.

Jitted functions here take only numpy arrays and scalars, so the pure-Python fallback runs the
exact same logic (tests on small data do not need numba; the benchmark does).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

try:
    import numba

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover - depends on the environment
    numba = None
    HAVE_NUMBA = False


def njit(func: F) -> F:
    if numba is None:  # pragma: no cover
        return func
    return numba.njit(cache=True, nogil=True)(func)  # type: ignore[no-any-return]
