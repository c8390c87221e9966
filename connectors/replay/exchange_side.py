"""The exchange side of the replay: market rows applied at their exchange time, our resting orders
matched against them (queue model), our requests acted on, answers queued for the local side.

Every function here sees the exchange timeline only (`st[S_EXNOW]`): the driver (core.run_until,
or the replay venue through arrays.py) decides which row or request comes next.
"""

from __future__ import annotations

import numpy as np

from connectors.replay.book import level_lots, set_level
from connectors.replay.jit import njit
from connectors.replay.layout import (
    B_EX,
    C_EXCH,
    C_KIND,
    C_PRICE,
    C_SIDE,
    C_SIZE,
    EX_CLOSED,
    EX_RESTING,
    F_CASH,
    F_FEES,
    F_MAKER_BPS,
    F_QPOWER,
    F_TAKER_BPS,
    INF_NS,
    O_EX,
    O_EX_FILLED,
    O_ID,
    O_INFLIGHT,
    O_LAT,
    O_POST_ONLY,
    O_PRICE,
    O_QTY,
    O_SIDE,
    Q_AHEAD,
    Q_TRADED,
    REQ_NEW,
    RESP_ACK,
    RESP_CANCEL_FAILED,
    RESP_CANCELLED,
    RESP_FILL,
    RESP_REJECTED,
    RING,
    S_BASE,
    S_BEST,
    S_EXNOW,
    S_FILLED_ORDERS,
    S_LAST_RESP,
    S_MAKER_LOTS,
    S_MAX_ABS_POS,
    S_NACT,
    S_NFILLS,
    S_POS,
    S_QMODEL,
    S_REJECTS,
    S_RESP_LATENCY_ZERO,
    S_RESP_TAIL,
    S_TAKER_LOTS,
    S_TAPE_ONLY,
)
from connectors.replay.queue_model import on_depth, on_trade


@njit
def _push_resp(
    st: np.ndarray, oi: np.ndarray, resp: np.ndarray, slot: int, kind: int, lots: int, price: int, maker: int
) -> None:
    ts = st[S_EXNOW]
    if st[S_RESP_LATENCY_ZERO] == 0:
        ts += oi[slot, O_LAT]
    if ts < st[S_LAST_RESP]:
        ts = st[S_LAST_RESP]
    st[S_LAST_RESP] = ts
    k = st[S_RESP_TAIL] % RING
    resp[k, 0], resp[k, 1], resp[k, 2], resp[k, 3], resp[k, 4], resp[k, 5] = (
        ts,
        kind,
        slot,
        lots,
        price,
        maker,
    )
    st[S_RESP_TAIL] += 1
    oi[slot, O_INFLIGHT] += 1


@njit
def _ex_fill(
    st: np.ndarray,
    fst: np.ndarray,
    oi: np.ndarray,
    resp: np.ndarray,
    fills: np.ndarray,
    slot: int,
    lots: int,
    price: int,
    maker: int,
) -> bool:
    """Book one execution of our order at the exchange; True when the order is now complete."""
    side = oi[slot, O_SIDE]
    if oi[slot, O_EX_FILLED] == 0:
        st[S_FILLED_ORDERS] += 1
    oi[slot, O_EX_FILLED] += lots
    st[S_POS] += side * lots
    pos = st[S_POS] if st[S_POS] >= 0 else -st[S_POS]
    if pos > st[S_MAX_ABS_POS]:
        st[S_MAX_ABS_POS] = pos
    notional = float(price) * float(lots)
    fst[F_CASH] -= side * notional
    if maker:
        fst[F_FEES] += notional * fst[F_MAKER_BPS] * 1e-4
        st[S_MAKER_LOTS] += lots
    else:
        fst[F_FEES] += notional * fst[F_TAKER_BPS] * 1e-4
        st[S_TAKER_LOTS] += lots
    k = st[S_NFILLS]
    if k < fills.shape[0]:
        fills[k, 0], fills[k, 1], fills[k, 2] = st[S_EXNOW], oi[slot, O_ID], side
        fills[k, 3], fills[k, 4], fills[k, 5] = price, lots, maker
    st[S_NFILLS] = k + 1
    _push_resp(st, oi, resp, slot, RESP_FILL, lots, price, maker)
    if oi[slot, O_EX_FILLED] >= oi[slot, O_QTY]:
        oi[slot, O_EX] = EX_CLOSED
        return True
    return False


@njit
def _remove_active(st: np.ndarray, act: np.ndarray, k: int) -> None:
    n = st[S_NACT] - 1
    act[k] = act[n]
    st[S_NACT] = n


@njit
def ex_row(
    data: np.ndarray,
    i: int,
    books: np.ndarray,
    st: np.ndarray,
    fst: np.ndarray,
    oi: np.ndarray,
    of: np.ndarray,
    act: np.ndarray,
    resp: np.ndarray,
    fills: np.ndarray,
) -> None:
    """Apply one market row on the exchange side and match our resting orders against it."""
    kind = data[C_KIND, i]
    side = data[C_SIDE, i]
    price = data[C_PRICE, i]
    lots = data[C_SIZE, i]
    if data[C_EXCH, i] > st[S_EXNOW]:
        st[S_EXNOW] = data[C_EXCH, i]
    if kind == 1:  # depth
        prev = set_level(books, st, B_EX + (0 if side == 1 else 1), price, lots)
        k = 0
        while k < st[S_NACT]:
            slot = act[k]
            o_side = oi[slot, O_SIDE]
            o_px = oi[slot, O_PRICE]
            if o_side == side:
                if o_px == price:
                    of[slot, Q_AHEAD] = on_depth(
                        st[S_QMODEL], fst[F_QPOWER], of[slot, Q_AHEAD], of[slot, Q_TRADED], prev, lots
                    )
                    of[slot, Q_TRADED] = 0.0
            elif (
                lots > 0
                and st[S_TAPE_ONLY] == 0
                and ((o_side == 1 and price <= o_px) or (o_side == -1 and price >= o_px))
            ):
                # Someone now rests at or through our price on the other side: their order met ours
                # first and still has size left, so it took all of ours (as on a FIFO book). Not on
                # live data (tape only): the venue never saw our order, so that order did not trade.
                rem = oi[slot, O_QTY] - oi[slot, O_EX_FILLED]
                if _ex_fill(st, fst, oi, resp, fills, slot, rem, o_px, 1):
                    _remove_active(st, act, k)
                    continue
            k += 1
    elif kind == 2:
        _ex_trade(side, price, lots, st, fst, oi, of, act, resp, fills)


@njit
def _ex_trade(
    side: int,
    price: int,
    lots: int,
    st: np.ndarray,
    fst: np.ndarray,
    oi: np.ndarray,
    of: np.ndarray,
    act: np.ndarray,
    resp: np.ndarray,
    fills: np.ndarray,
) -> None:
    """A print of `lots` at `price` by a `side` aggressor, against our resting orders it reached.

    Price-time priority, as the mock venue's book: our orders priced better than the print go
    first (the aggressor would have met them first), then those at its price, behind the volume
    ahead of them (queue model); our earlier order before our later one. Each takes at most what
    of the print is left, so one print never fills more lots than it printed.
    """
    left = lots
    last_key = -INF_NS
    last_id = -1
    while True:
        pick = -1
        pick_key = INF_NS
        pick_id = INF_NS
        waiting = 0  # orders still to handle for this print, the pick included
        for k in range(st[S_NACT]):
            slot = act[k]
            if oi[slot, O_SIDE] != -side:
                continue
            key = oi[slot, O_PRICE] * side  # lower is met first by this aggressor
            if key > price * side:
                continue
            oid = oi[slot, O_ID]
            if key < last_key or (key == last_key and oid <= last_id):
                continue  # already handled for this print
            waiting += 1
            if key < pick_key or (key == pick_key and oid < pick_id):
                pick, pick_key, pick_id = k, key, oid
        if pick < 0:
            return
        last_key, last_id = pick_key, pick_id
        slot = act[pick]
        rem = oi[slot, O_QTY] - oi[slot, O_EX_FILLED]
        if pick_key < price * side:
            take = left if left < rem else rem  # traded through our price
        else:
            ahead, reach = on_trade(of[slot, Q_AHEAD], left)
            of[slot, Q_AHEAD] = ahead
            take = reach if reach < rem else rem
            of[slot, Q_TRADED] += left - take
        left -= take
        if take > 0 and _ex_fill(st, fst, oi, resp, fills, slot, take, oi[slot, O_PRICE], 1):
            _remove_active(st, act, pick)
        if waiting == 1:
            return


@njit
def ex_request(
    kind: int,
    slot: int,
    books: np.ndarray,
    st: np.ndarray,
    fst: np.ndarray,
    oi: np.ndarray,
    of: np.ndarray,
    act: np.ndarray,
    resp: np.ndarray,
    fills: np.ndarray,
) -> None:
    """A request reaches the exchange (at st[S_EXNOW])."""
    if kind == REQ_NEW:
        side = oi[slot, O_SIDE]
        px = oi[slot, O_PRICE]
        bb = st[S_BEST + B_EX]
        ba = st[S_BEST + B_EX + 1]
        crosses = (side == 1 and ba != 0 and px >= ba) or (side == -1 and bb != 0 and px <= bb)
        if oi[slot, O_POST_ONLY] and not crosses:
            for k in range(st[S_NACT]):  # a venue rejects a post-only order crossing our own too
                other = act[k]
                if oi[other, O_SIDE] == -side and (oi[other, O_PRICE] - px) * side <= 0:
                    crosses = True
                    break
        if crosses and oi[slot, O_POST_ONLY]:
            oi[slot, O_EX] = EX_CLOSED
            st[S_REJECTS] += 1
            _push_resp(st, oi, resp, slot, RESP_REJECTED, 0, px, 0)
            return
        _push_resp(st, oi, resp, slot, RESP_ACK, 0, px, 0)
        if crosses:
            # Take the visible opposite levels up to our limit; the recorded book is not changed.
            row = B_EX + (1 if side == 1 else 0)
            level = ba if side == 1 else bb
            while oi[slot, O_EX_FILLED] < oi[slot, O_QTY] and level != 0 and (side * (px - level) >= 0):
                avail = level_lots(books, st, row, level)
                if avail > 0:
                    rem = oi[slot, O_QTY] - oi[slot, O_EX_FILLED]
                    if _ex_fill(st, fst, oi, resp, fills, slot, rem if rem < avail else avail, level, 0):
                        return
                level += side
                if level - st[S_BASE] < 0 or level - st[S_BASE] >= books.shape[1]:
                    break
        oi[slot, O_EX] = EX_RESTING
        of[slot, Q_AHEAD] = float(level_lots(books, st, B_EX + (0 if side == 1 else 1), px))
        of[slot, Q_TRADED] = 0.0
        act[st[S_NACT]] = slot
        st[S_NACT] += 1
    else:
        if oi[slot, O_EX] == EX_RESTING:
            for k in range(st[S_NACT]):
                if act[k] == slot:
                    _remove_active(st, act, k)
                    break
            oi[slot, O_EX] = EX_CLOSED
            _push_resp(st, oi, resp, slot, RESP_CANCELLED, 0, oi[slot, O_PRICE], 0)
        else:
            _push_resp(st, oi, resp, slot, RESP_CANCEL_FAILED, 0, oi[slot, O_PRICE], 0)
