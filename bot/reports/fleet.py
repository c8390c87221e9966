"""`mmbot status --all`: every bot that uses the store, one line each (#18 item 2).

Per instance: its state, markets, open orders, net position per base asset and PnL per quote
asset (as `mmbot status` computes them for that instance alone), and its last heartbeat (the
periodic snapshot job writes one). The state says what can be known from the store:

- `running`: a process holds the instance's lock now (the caller's `running` probe); `paused` or
  `tripped` are added when the operator or the kill switch paused it;
- `stopped`: no process holds it and its last run ended with a stop event;
- `crashed`: no process holds it and its last run never stopped (killed, or the host died);
- `alive` / `silent`: the lock cannot be probed (another backend): the heartbeat is newer, or
  older, than three of its own intervals.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from bot.core.clock import NS_PER_S
from bot.core.domain import MarketKey
from bot.kernel.control_store import HEARTBEAT, KILL_SWITCH_TRIP, OPERATOR_PAUSE, ControlStore
from bot.kernel.store import Store
from bot.reports.status import collect_status

SILENT_AFTER_INTERVALS = 3


def collect_fleet(store: Store, now_ns: int, running: Callable[[str], bool | None]) -> list[dict[str, Any]]:
    """One entry per instance that wrote to the store (`store` reads the whole database)."""
    return [
        instance_line(store.for_instance(instance), now_ns, running(instance))
        for instance in store.instance_ids()
        if instance  # rows of an older store that cannot be attributed belong to nobody
    ]


def instance_line(store: Store, now_ns: int, running: bool | None) -> dict[str, Any]:
    assert store.instance_id is not None
    controls = ControlStore(store, store.instance_id)
    beat = controls.get(HEARTBEAT)
    status = collect_status(store)
    position: dict[str, Decimal] = defaultdict(Decimal)
    pnl: dict[str, Decimal] = defaultdict(Decimal)
    for key, m in status["markets"].items():
        base, _, quote = MarketKey.parse(key).symbol.partition("/")
        position[base] += Decimal(m["position_base"])
        if m["pnl_quote"] is not None:
            pnl[quote] += Decimal(m["pnl_quote"])
    markets = beat["markets"] if beat else sorted(status["markets"])
    return {
        "instance_id": store.instance_id,
        "state": _state(store, controls, running, beat, now_ns),
        "markets": markets,
        "open_orders": len(status["open_orders"]),
        "position": {a: str(v) for a, v in sorted(position.items())},
        "pnl": {a: str(v) for a, v in sorted(pnl.items())},
        "heartbeat_age_s": None if beat is None else round((now_ns - int(beat["ts_ns"])) / NS_PER_S, 1),
    }


def _state(
    store: Store, controls: ControlStore, running: bool | None, beat: dict[str, Any] | None, now_ns: int
) -> str:
    if running is None:
        if beat is None:
            return "silent"
        age_s = (now_ns - int(beat["ts_ns"])) / NS_PER_S
        state = "alive" if age_s <= SILENT_AFTER_INTERVALS * float(beat["interval_s"]) else "silent"
    elif running:
        state = "running"
    else:
        last = store.latest_event("start", "stop")
        return "stopped" if last is not None and last.kind == "stop" else "crashed"
    if controls.get(KILL_SWITCH_TRIP) is not None:
        return f"{state}, tripped"
    if controls.get(OPERATOR_PAUSE) is not None:
        return f"{state}, paused"
    return state


def format_fleet(lines: list[dict[str, Any]]) -> str:
    def amounts(values: dict[str, str]) -> str:
        return (
            " ".join(f"{asset} {Decimal(v):+.6f}".rstrip("0").rstrip(".") for asset, v in values.items())
            or "-"
        )

    header = ("instance", "state", "markets", "open", "position", "pnl", "heartbeat")
    rows = [header]
    for f in lines:
        age = "-" if f["heartbeat_age_s"] is None else f"{f['heartbeat_age_s']:.0f}s ago"
        rows.append(
            (f["instance_id"], f["state"], ",".join(f["markets"]) or "-", str(f["open_orders"]),
             amounts(f["position"]), amounts(f["pnl"]), age)
        )  # fmt: skip
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows)
