"""`njit` from numba when installed (the `backtest` extra), else a no-op: same code, slower.

Jitted functions here take only numpy arrays and scalars, so the pure-Python fallback runs the
exact same logic (tests on small data do not need numba; the benchmark does).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from types import ModuleType
from typing import Any, TypeVar, cast

F = TypeVar("F", bound=Callable[..., Any])

numba: ModuleType | None
try:
    numba = importlib.import_module("numba")
except ImportError:  # pragma: no cover - depends on the environment
    numba = None
HAVE_NUMBA = numba is not None


def njit(func: F) -> F:
    if numba is None:  # pragma: no cover
        return func
    return cast(F, numba.njit(cache=True, nogil=True)(func))


def inlined(func: F) -> F:
    """A function (plain or already `njit`) compiled into each jitted caller's body instead of
    called: for small helpers on a per-row path, where a call passing arrays costs more than the
    work. Not cached on its own: it is only ever compiled as part of a caller."""
    if numba is None:  # pragma: no cover
        return func
    if isinstance(func, numba.core.dispatcher.Dispatcher):
        return cast(F, numba.njit(nogil=True, inline="always")(func.py_func))
    return cast(F, numba.njit(nogil=True, inline="always")(func))
