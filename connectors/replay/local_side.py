"""The local side of the replay (what a strategy sees): its book rows, the orders it sends, and
the answers that reach it one latency after the exchange made them. Both channels are FIFO rings.
"""

from __future__ import annotations

import numpy as np

from connectors.replay.book import set_level
from connectors.replay.jit import njit
from connectors.replay.layout import (
    B_LO,
    C_KIND,
    C_PRICE,
    C_SIDE,
    C_SIZE,
    EX_CLOSED,
    EX_PENDING,
    LO_CLOSED,
    LO_OPEN,
    LO_PENDING_CANCEL,
    LO_PENDING_NEW,
    O_EX,
    O_EX_FILLED,
    O_ID,
    O_INFLIGHT,
    O_LAT,
    O_LO,
    O_LO_FILLED,
    O_POST_ONLY,
    O_PRICE,
    O_QTY,
    O_SIDE,
    REQ_CANCEL,
    REQ_NEW,
    RESP_ACK,
    RESP_FILL,
    RING,
    S_CANCELS,
    S_DROPPED,
    S_LAST_REQ,
    S_LAT_K,
    S_LONOW,
    S_LOPOS,
    S_NEXT_ID,
    S_ORDERS,
    S_REQ_TAIL,
    S_RESP_HEAD,
)


@njit
def maybe_free_slot(oi: np.ndarray, slot: int) -> None:
    if oi[slot, O_LO] == LO_CLOSED and oi[slot, O_EX] == EX_CLOSED and oi[slot, O_INFLIGHT] == 0:
        oi[slot, O_LO] = 0
        oi[slot, O_EX] = 0


@njit
def lo_response(st: np.ndarray, oi: np.ndarray, resp: np.ndarray) -> int:
    """Deliver the oldest answer to the local side; returns its kind."""
    k = st[S_RESP_HEAD] % RING
    st[S_RESP_HEAD] += 1
    kind = resp[k, 1]
    slot = resp[k, 2]
    oi[slot, O_INFLIGHT] -= 1
    if kind == RESP_ACK:
        if oi[slot, O_LO] == LO_PENDING_NEW:
            oi[slot, O_LO] = LO_OPEN
    elif kind == RESP_FILL:
        lots = resp[k, 3]
        oi[slot, O_LO_FILLED] += lots
        st[S_LOPOS] += oi[slot, O_SIDE] * lots
        if oi[slot, O_LO_FILLED] >= oi[slot, O_QTY]:
            oi[slot, O_LO] = LO_CLOSED
    else:
        oi[slot, O_LO] = LO_CLOSED
    maybe_free_slot(oi, slot)
    return kind


@njit
def _push_req(st: np.ndarray, oi: np.ndarray, req: np.ndarray, slot: int, kind: int) -> None:
    ts = st[S_LONOW] + oi[slot, O_LAT]
    if ts < st[S_LAST_REQ]:
        ts = st[S_LAST_REQ]
    st[S_LAST_REQ] = ts
    k = st[S_REQ_TAIL] % RING
    req[k, 0], req[k, 1], req[k, 2] = ts, kind, slot
    st[S_REQ_TAIL] += 1
    oi[slot, O_INFLIGHT] += 1


@njit
def new_order(
    st: np.ndarray,
    oi: np.ndarray,
    req: np.ndarray,
    lat: np.ndarray,
    side: int,
    price: int,
    lots: int,
    post_only: int,
) -> int:
    """Send a new order from the local side now; returns its slot, or -1 when every slot is busy."""
    for slot in range(oi.shape[0]):
        if oi[slot, O_LO] == 0 and oi[slot, O_EX] == 0 and oi[slot, O_INFLIGHT] == 0:
            oi[slot, O_LO], oi[slot, O_EX] = LO_PENDING_NEW, EX_PENDING
            oi[slot, O_SIDE], oi[slot, O_PRICE], oi[slot, O_QTY] = side, price, lots
            oi[slot, O_EX_FILLED], oi[slot, O_LO_FILLED] = 0, 0
            oi[slot, O_ID] = st[S_NEXT_ID]
            st[S_NEXT_ID] += 1
            oi[slot, O_POST_ONLY] = post_only
            oi[slot, O_LAT] = lat[st[S_LAT_K] % lat.shape[0]]
            st[S_LAT_K] += 1
            st[S_ORDERS] += 1
            _push_req(st, oi, req, slot, REQ_NEW)
            return slot
    st[S_DROPPED] += 1
    return -1


@njit
def cancel_order(st: np.ndarray, oi: np.ndarray, req: np.ndarray, slot: int) -> None:
    if oi[slot, O_LO] == LO_PENDING_NEW or oi[slot, O_LO] == LO_OPEN:
        oi[slot, O_LO] = LO_PENDING_CANCEL
        st[S_CANCELS] += 1
        _push_req(st, oi, req, slot, REQ_CANCEL)


@njit
def apply_targets(
    st: np.ndarray, oi: np.ndarray, req: np.ndarray, lat: np.ndarray, targets: np.ndarray, n_targets: int
) -> None:
    """Make our live orders match `targets` rows (side, price_ticks, size_lots): keep orders whose
    side and price are wanted, cancel the rest, send what is missing (post-only)."""
    matched = np.zeros(n_targets, dtype=np.bool_)
    for slot in range(oi.shape[0]):
        state = oi[slot, O_LO]
        if state != LO_PENDING_NEW and state != LO_OPEN:
            continue
        found = False
        for k in range(n_targets):
            if not matched[k] and targets[k, 0] == oi[slot, O_SIDE] and targets[k, 1] == oi[slot, O_PRICE]:
                matched[k] = True
                found = True
                break
        if not found:
            cancel_order(st, oi, req, slot)
    for k in range(n_targets):
        if not matched[k] and targets[k, 2] > 0:
            new_order(st, oi, req, lat, targets[k, 0], targets[k, 1], targets[k, 2], 1)


@njit
def lo_row(data: np.ndarray, i: int, books: np.ndarray, st: np.ndarray) -> None:
    if data[C_KIND, i] == 1:
        set_level(books, st, B_LO + (0 if data[C_SIDE, i] == 1 else 1), data[C_PRICE, i], data[C_SIZE, i])
