"""The replay core's state, laid out in a few preallocated numpy arrays: what each index holds.

One jitted call carries the whole replay state in these arrays (connectors/replay/core.py), so
every index below is a constant numba freezes at compile time. Prices are integer ticks, sizes
integer lots, times int64 nanoseconds; sides are +1 (bid / buy) and -1 (ask / sell).
"""

from __future__ import annotations

INF_NS = 2**62
"""A time after every event: an empty channel's next time."""

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
S_TAPE_ONLY = 35  # 1: resting orders fill on prints only, never on a book level that crosses them
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
