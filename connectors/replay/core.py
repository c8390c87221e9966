"""The replay core: an exchange-side and a local-side L2 book, our orders with a queue model, and
two latency channels between them, over preallocated numpy arrays (jitted with numba when present).

Two timelines, like a real deployment: the exchange side applies rows at `exch_ts_ns` and matches
our resting orders against them; the local side (what a strategy sees) applies rows at
`local_ts_ns`. A request sent at local time t reaches the exchange at t + latency and its
answers come back one latency after the exchange made them; both channels are FIFO. At equal
times a market row is applied before an arriving request, so an order sent at t can never trade
with a row stamped before t + latency (no look-ahead).

State lives in a few arrays so one jitted call carries it all (see the index constants). Every
function is pure array code: `run_until` drives the whole replay for the fast backtest, and the
replay venue (connectors.replay) drives the exchange side alone through `ex_advance`.
"""

from __future__ import annotations

import numpy as np

from connectors.replay.jit import njit
from connectors.replay.queue_model import on_depth, on_trade

INF_NS = np.int64(2**62)

# data columns (int64, shape (6, n): one contiguous row per column)
C_KIND, C_SIDE, C_EXCH, C_LOCAL, C_PRICE, C_SIZE = 0, 1, 2, 3, 4, 5
# book rows (int64, shape (4, window)): exchange bid / ask, local bid / ask
B_EX, B_LO = 0, 2

# st: int64 scalars
S_EXCUR, S_LOCUR, S_EXNOW, S_LONOW = 0, 1, 2, 3
S_BEST = 4  # 4..7: best price per book row (0 = empty)
S_BASE = 8  # price of book column 0
S_POS, S_LOPOS = 9, 10
S_NEXTWAKE, S_WAKE_INTERVAL, S_WAKE_ON_FILL = 11, 12, 13
S_NACT = 14
S_REQ_HEAD, S_REQ_TAIL, S_RESP_HEAD, S_RESP_TAIL = 15, 16, 17, 18
S_LAST_REQ, S_LAST_RESP = 19, 20
S_NFILLS, S_NSAMPLES = 21, 22
S_NEXT_ID, S_LAT_K, S_QMODEL = 23, 24, 25
S_ORDERS, S_CANCELS, S_REJECTS, S_FILLED_ORDERS, S_DROPPED = 26, 27, 28, 29, 30
S_MAKER_LOTS, S_TAKER_LOTS, S_MAX_ABS_POS = 31, 32, 33
S_RESP_LATENCY_ZERO = 34  # 1: answers are stamped at exchange time (a driver adds its own delays)
N_ST = 40

# fst: float64 scalars (money in tick·lot units: price_ticks × size_lots)
F_CASH, F_FEES, F_MAKER_BPS, F_TAKER_BPS, F_QPOWER = 0, 1, 2, 3, 4
N_FST = 8

# oi: int64 per order slot
O_LO, O_EX, O_SIDE, O_PRICE, O_QTY, O_EX_FILLED, O_LO_FILLED, O_ID, O_POST_ONLY, O_LAT, O_INFLIGHT = range(11)
N_OI = 11
# of: float64 per order slot
Q_AHEAD, Q_TRADED = 0, 1
# local states / exchange states of a slot (0 = free)
LO_PENDING_NEW, LO_OPEN, LO_PENDING_CANCEL, LO_CLOSED = 1, 2, 3, 4
EX_PENDING, EX_RESTING, EX_CLOSED = 1, 2, 3

# request ring rows (ts, kind, slot); response ring rows (ts, kind, slot, lots, price, maker)
REQ_NEW, REQ_CANCEL = 1, 2
RESP_ACK, RESP_FILL, RESP_CANCELLED, RESP_REJECTED, RESP_CANCEL_FAILED = 1, 2, 3, 4, 5
RING = 1 << 14

# fills rows: (exch_ts, order_id, side, price_ticks, size_lots, is_maker)
# samples rows: (ts, mid_ticks, position_lots, cash, fees)

# run_until return codes
R_WAKE, R_FILL, R_END, R_FILLS_FULL, R_SAMPLES_FULL = 1, 2, 3, 4, 5


@njit
def set_level(books: np.ndarray, st: np.ndarray, row: int, price: int, lots: int) -> int:
    """Set one level's absolute size, keep that book row's best price; returns the old size."""
    base = st[S_BASE]
    width = books.shape[1]
    i = price - base
    if i < 0 or i >= width:
        return 0
    prev = books[row, i]
    books[row, i] = lots
    b = S_BEST + row
    best = st[b]
    if row % 2 == 0:
        if lots > 0:
            if best == 0 or price > best:
                st[b] = price
        elif price == best:
            j = i - 1
            while j >= 0 and books[row, j] == 0:
                j -= 1
            st[b] = base + j if j >= 0 else 0
    else:
        if lots > 0:
            if best == 0 or price < best:
                st[b] = price
        elif price == best:
            j = i + 1
            while j < width and books[row, j] == 0:
                j += 1
            st[b] = base + j if j < width else 0
    return prev


@njit
def level_lots(books: np.ndarray, st: np.ndarray, row: int, price: int) -> int:
    i = price - st[S_BASE]
    if i < 0 or i >= books.shape[1]:
        return 0
    return books[row, i]


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
            elif lots > 0 and ((o_side == 1 and price <= o_px) or (o_side == -1 and price >= o_px)):
                # Someone now rests at or through our price on the other side: their order met ours
                # first and still has size left, so it took all of ours (as on a FIFO book).
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


@njit
def _maybe_free(oi: np.ndarray, slot: int) -> None:
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
    _maybe_free(oi, slot)
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


@njit
def ex_advance(
    until_ns: int,
    data: np.ndarray,
    ex_order: np.ndarray,
    books: np.ndarray,
    st: np.ndarray,
    fst: np.ndarray,
    oi: np.ndarray,
    of: np.ndarray,
    act: np.ndarray,
    resp: np.ndarray,
    fills: np.ndarray,
) -> int:
    """Apply exchange rows stamped at or before `until_ns`; returns the next row's time (or INF)."""
    n = data.shape[1]
    while st[S_EXCUR] < n:
        i = ex_order[st[S_EXCUR]]
        if data[C_EXCH, i] > until_ns:
            return data[C_EXCH, i]
        ex_row(data, i, books, st, fst, oi, of, act, resp, fills)
        st[S_EXCUR] += 1
    return INF_NS


@njit
def _record_sample(st: np.ndarray, fst: np.ndarray, samples: np.ndarray, ts: int) -> None:
    k = st[S_NSAMPLES]
    bb, ba = st[S_BEST + B_LO], st[S_BEST + B_LO + 1]
    mid = 0.5 * (bb + ba) if bb > 0 and ba > 0 else np.nan
    samples[k, 0], samples[k, 1], samples[k, 2] = ts, mid, st[S_POS]
    samples[k, 3], samples[k, 4] = fst[F_CASH], fst[F_FEES]
    st[S_NSAMPLES] = k + 1


@njit
def run_until(
    data: np.ndarray,
    ex_order: np.ndarray,
    books: np.ndarray,
    st: np.ndarray,
    fst: np.ndarray,
    oi: np.ndarray,
    of: np.ndarray,
    act: np.ndarray,
    req: np.ndarray,
    resp: np.ndarray,
    fills: np.ndarray,
    samples: np.ndarray,
    lat: np.ndarray,
    targets: np.ndarray,
    n_targets: int,
) -> int:
    """Apply `targets` (n_targets >= 0) at the local now, then replay until the strategy has to
    act again (a wake-up, or one of our fills reaching the local side) or the data ends."""
    if n_targets >= 0:
        apply_targets(st, oi, req, lat, targets, n_targets)
    n = data.shape[1]
    room = oi.shape[0] + 1
    while True:
        if fills.shape[0] - st[S_NFILLS] < room:
            return R_FILLS_FULL
        excur = st[S_EXCUR]
        locur = st[S_LOCUR]
        t_ex = data[C_EXCH, ex_order[excur]] if excur < n else INF_NS
        t_lo = data[C_LOCAL, locur] if locur < n else INF_NS
        if t_ex == INF_NS and t_lo == INF_NS:
            if samples.shape[0] - st[S_NSAMPLES] < 1:
                return R_SAMPLES_FULL
            _record_sample(st, fst, samples, st[S_LONOW])
            return R_END
        t_req = req[st[S_REQ_HEAD] % RING, 0] if st[S_REQ_HEAD] < st[S_REQ_TAIL] else INF_NS
        t_resp = resp[st[S_RESP_HEAD] % RING, 0] if st[S_RESP_HEAD] < st[S_RESP_TAIL] else INF_NS
        t_wake = st[S_NEXTWAKE]
        if t_ex <= t_req and t_ex <= t_lo and t_ex <= t_resp and t_ex <= t_wake:
            ex_row(data, ex_order[excur], books, st, fst, oi, of, act, resp, fills)
            st[S_EXCUR] = excur + 1
        elif t_req <= t_lo and t_req <= t_resp and t_req <= t_wake:
            k = st[S_REQ_HEAD] % RING
            st[S_REQ_HEAD] += 1
            if t_req > st[S_EXNOW]:
                st[S_EXNOW] = t_req
            slot = req[k, 2]
            oi[slot, O_INFLIGHT] -= 1
            ex_request(req[k, 1], slot, books, st, fst, oi, of, act, resp, fills)
            _maybe_free(oi, slot)
        elif t_lo <= t_resp and t_lo <= t_wake:
            st[S_LONOW] = t_lo
            lo_row(data, locur, books, st)
            st[S_LOCUR] = locur + 1
        elif t_resp <= t_wake:
            st[S_LONOW] = t_resp
            if lo_response(st, oi, resp) == RESP_FILL and st[S_WAKE_ON_FILL]:
                return R_FILL
        else:
            if samples.shape[0] - st[S_NSAMPLES] < 1:
                return R_SAMPLES_FULL
            st[S_LONOW] = t_wake
            _record_sample(st, fst, samples, t_wake)
            st[S_NEXTWAKE] = t_wake + st[S_WAKE_INTERVAL]
            return R_WAKE
