"""The replay core: an exchange-side and a local-side L2 book, our orders with a queue model, and
two latency channels between them, over preallocated numpy arrays (jitted with numba when present).

Two timelines, like a real deployment: the exchange side (connectors/replay/exchange_side.py)
applies rows at `exch_ts_ns` and matches our resting orders against them; the local side
(connectors/replay/local_side.py, what a strategy sees) applies rows at `local_ts_ns`. A request
sent at local time t reaches the exchange at t + latency and its answers come back one latency
after the exchange made them; both channels are FIFO. At equal times a market row is applied
before an arriving request, so an order sent at t can never trade with a row stamped before
t + latency (no look-ahead).

State lives in a few arrays so one jitted call carries it all (connectors/replay/layout.py).
Every function is pure array code: `run_until` here drives the whole replay for the fast
backtest; the replay venue drives each side alone (connectors/replay/arrays.py).
"""

from __future__ import annotations

import numpy as np

from connectors.replay.exchange_side import ex_request, ex_row
from connectors.replay.jit import njit
from connectors.replay.layout import (
    B_LO,
    C_EXCH,
    C_LOCAL,
    F_CASH,
    F_FEES,
    INF_NS,
    O_INFLIGHT,
    R_END,
    R_FILL,
    R_FILLS_FULL,
    R_SAMPLES_FULL,
    R_WAKE,
    RESP_FILL,
    RING,
    S_BEST,
    S_EXCUR,
    S_EXNOW,
    S_LOCUR,
    S_LONOW,
    S_NEXTWAKE,
    S_NFILLS,
    S_NSAMPLES,
    S_POS,
    S_REQ_HEAD,
    S_REQ_TAIL,
    S_RESP_HEAD,
    S_RESP_TAIL,
    S_WAKE_INTERVAL,
    S_WAKE_ON_FILL,
)
from connectors.replay.local_side import apply_targets, lo_response, lo_row, maybe_free_slot


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
            maybe_free_slot(oi, slot)
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
