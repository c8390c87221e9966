"""A paper session's own timing, recorded by the paper venue and replayed by the replay venue.

A replay on virtual time charges nothing for the bot's own work, while a real-time session's bot
works on a busy event loop: its timers fire late, its requests leave milliseconds after it
decided and each `asyncio.sleep` of the paper venue ends when the loop gets to it. So with
`record_dir` the paper venue writes, as JSON lines (`TimingLog`):

- every round trip (an order action keyed by its client order id, a query by its kind and count):
  when it was called, reached the simulated matching and answered;
- every requote round of the bot's engine: its clock reading and the market slots it requoted
  (`RecordsRequoteRounds`; a round of no slots: the bot stopped), and when each stop's cancel
  sweep started;
- when its streams had started, and when each private-stream event reached the bot.

The log starts when the venue connects, so the start-up's queries are in it too, and a backtest
of the session starts before its first request (`session_start_ns`): the replay's start-up takes
the session's times and its streams start before the first recorded row. (Started at the second
before the recording's first row instead, its start-up on synthetic latency could end after that
row, which was then folded into the book unpublished: the replay's bot missed the first book the
session's bot had quoted on.)

A replay venue with `session_timing` (`RecordedLatency`) hands the rounds to its bot's engine,
which requotes exactly then, those markets (`ReplaysRequoteRounds`), and stops where the session
stopped; it shows the bot each row at its receipt time and each private event no earlier than the
session's bot got it, and makes each of the session's requests reach the matching and answer when
it did: the same decisions on the same data meet the same rows, and the fills are the session's.
Without the rounds (another config on the recording) each request takes its recorded latency from
the replay's call; a request the session did not make takes the configured synthetic one.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

FORMAT = "mmbot-session-timing-1"
SUFFIX = ".timing.json"


@dataclass(frozen=True, slots=True)
class RoundTrip:
    """One request of the session: its call, arrival at the matching, and answer times (ns)."""

    call_ns: int
    arrive_ns: int
    respond_ns: int
    slots: tuple[int, ...] = ()  # a requote round's: the market slots it requoted


@dataclass(frozen=True, slots=True)
class Trip:
    """When a replayed request reaches the matching and when its answer is back (ns);
    `exact`: arrive at `arrive_ns` to the nanosecond (a recorded time), else at the clock's
    reading after sleeping until then (a synthetic latency, as it always was)."""

    arrive_ns: int
    respond_ns: int
    exact: bool


ROUND, SYNC, SWEEP = "round", "sync", "sweep"  # the engine's kinds (bot/kernel/session_rounds.py)
PRIVATE = "private"  # the k-th private-stream event (fill, order change) reached the bot then


@runtime_checkable
class RecordsRequoteRounds(Protocol):
    """A venue that records when the bot's requote loop ran (the paper venue, with record_dir)."""

    def requote_round(self, kind: str, now_ns: int, slots: tuple[int, ...]) -> None: ...


@runtime_checkable
class ReplaysRequoteRounds(Protocol):
    """A venue that replays a session's requote times (a replay venue with session_timing)."""

    def requote_rounds(self) -> list[tuple[str, int, tuple[int, ...]]]: ...


class LatencyModel(Protocol):
    def trip(self, key: str, now_ns: int) -> Trip: ...


class RequestKeys:
    """Names each round trip the same way in the session and in its replay."""

    def __init__(self) -> None:
        self._queries: Counter[str] = Counter()

    @staticmethod
    def order(action: str, client_order_id: str) -> str:
        return f"{action}:{client_order_id}"

    def query(self, kind: str) -> str:
        n = self._queries[kind]
        self._queries[kind] += 1
        return f"{kind}#{n}"


class SyntheticLatency:
    """The configured latency draws, taken in turn: one out, the same one back."""

    def __init__(self, draws_ns: Callable[[], int]) -> None:
        self._draw = draws_ns

    def trip(self, key: str, now_ns: int) -> Trip:
        latency_ns = self._draw()
        return Trip(now_ns + latency_ns, now_ns + 2 * latency_ns, exact=False)


class RecordedLatency:
    """The session's recorded times; `fallback` for requests it did not make."""

    def __init__(self, trips: dict[str, RoundTrip], fallback: LatencyModel) -> None:
        self.trips = trips
        self.fallback = fallback
        self.replayed = self.missed = 0
        self.aligned = False  # the bot requotes at the session's times (`rounds`)

    def streams_started_ns(self, key: str) -> int | None:
        """When the session's `start_streams` returned (its bot starts quoting after it)."""
        rec = self.trips.get(key)
        return None if rec is None else rec.respond_ns

    @property
    def rounds(self) -> list[tuple[str, int, tuple[int, ...]]]:
        """The session's requote rounds, order syncs and stop sweeps (kind, clock reading, slots),
        in order."""
        kinds = {key: key.split("#")[0] for key in self.trips}
        rounds = [
            (kinds[k], rec.call_ns, rec.slots)
            for k, rec in self.trips.items()
            if kinds[k] in (ROUND, SYNC, SWEEP)
        ]
        return sorted(rounds, key=lambda r: r[1])

    def delivered_ns(self, key: str) -> int:
        """When the session's bot got the private event `key` (0: not recorded)."""
        rec = self.trips.get(key)
        return 0 if rec is None else rec.call_ns

    def trip(self, key: str, now_ns: int) -> Trip:
        rec = self.trips.get(key)
        if rec is None:  # not a request of the session
            self.missed += 1
            return self.fallback.trip(key, now_ns)
        self.replayed += 1
        # the session's own latency from this call; with the session's rounds replayed the bot
        # decided when the session's did, and its request reaches the matching when the
        # session's did (the bot's work between deciding and sending included)
        late_ns = max(now_ns - rec.call_ns, 0)
        arrive_ns = rec.arrive_ns + late_ns if self.aligned else now_ns + max(rec.arrive_ns - rec.call_ns, 0)
        return Trip(arrive_ns, arrive_ns + max(rec.respond_ns - rec.arrive_ns, 0), exact=True)


class TimingLog:
    """The paper venue's side: every round trip as it happened, as JSON lines (a header naming the
    format and venue, then `[key, call_ns, arrive_ns, respond_ns]` per trip), appended every
    `flush_rows` trips so a day-long session holds little in memory and a crash loses few."""

    def __init__(self, venue: str, path: Path, *, flush_rows: int = 1000) -> None:
        self.venue, self.path, self.flush_rows = venue, path, flush_rows
        self.rows: list[tuple[str, int, int, int] | tuple[str, int, int, int, list[int]]] = []
        self._started = False

    @classmethod
    def in_dir(cls, out_dir: Path, venue: str) -> TimingLog:
        """A log written to `out_dir` as `<venue>-<UTC start>.timing.json`."""
        return cls(venue, out_dir / f"{venue}-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}{SUFFIX}")

    def add(self, key: str, call_ns: int, arrive_ns: int, respond_ns: int) -> None:
        self.rows.append((key, call_ns, arrive_ns, respond_ns))
        self._flush_if_full()

    def add_round(self, key: str, now_ns: int, slots: tuple[int, ...]) -> None:
        self.rows.append((key, now_ns, now_ns, now_ns, list(slots)))
        self._flush_if_full()

    def _flush_if_full(self) -> None:
        if len(self.rows) >= self.flush_rows:
            self.save()

    def save(self) -> Path:
        """Append the trips not written yet (the header first)."""
        rows, self.rows = self.rows, []
        lines = [] if self._started else [json.dumps({"format": FORMAT, "venue": self.venue})]
        lines += [json.dumps(row, separators=(",", ":")) for row in rows]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a" if self._started else "w", encoding="utf-8") as f:
            f.writelines(line + "\n" for line in lines)
        self._started = True
        return self.path


class SessionTimingError(ValueError):
    pass


def load_timing(path: Path) -> dict[str, RoundTrip]:
    """A session's round trips by key; a clear error naming the file when it is not one."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
        header = json.loads(lines[0]) if lines else None
        rows = [json.loads(line) for line in lines[1:] if line]
    except (OSError, ValueError) as exc:
        raise SessionTimingError(f"session_timing: cannot read {path}: {exc}") from exc
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise SessionTimingError(f"session_timing: {path} is not a session timing file ({FORMAT})")
    return {
        str(r[0]): RoundTrip(int(r[1]), int(r[2]), int(r[3]), tuple(r[4]) if len(r) > 4 else ()) for r in rows
    }


def session_start_ns(path: Path) -> int | None:
    """When the session made its first recorded request (None: none): its replay starts earlier."""
    return min((trip.call_ns for trip in load_timing(path).values()), default=None)
