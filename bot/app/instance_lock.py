"""One process per store and instance id: a second `mmbot run` on the same config refuses to start.

Two bots on one store fight over the same client order ids and split the fills between them
(each sees a fraction, both think they are flat). The lock is taken before the bot writes
anything and held until its store is closed:

- a SQLite file: an OS file lock (`filelock`, flock on Linux) on `<database>.<instance id>.lock`
  next to the database. The kernel releases it when the process dies, SIGKILL included, so a
  crash never leaves a stale lock behind.
- PostgreSQL: a session advisory lock (`pg_try_advisory_lock`) keyed by the instance id, held on
  a connection of its own; the server releases it when that connection ends (process death too).
- any other database URL: no lock (a warning at start): running one process per instance id is
  then the operator's job.
- in-memory SQLite: nothing to share, no lock.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from filelock import FileLock, Timeout
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, Engine, make_url

from bot.core.exit_codes import ExitCode, StartupError

log = logging.getLogger("mmbot")


class InstanceLocked(StartupError):
    def __init__(self, message: str) -> None:
        super().__init__(ExitCode.INSTANCE_LOCKED, [message])


class InstanceLock(Protocol):
    def release(self) -> None: ...


@dataclass(frozen=True, slots=True)
class NoLock:
    def release(self) -> None:
        return None


@dataclass(frozen=True, slots=True)
class FileInstanceLock:
    lock: FileLock

    def release(self) -> None:
        self.lock.release(force=True)


@dataclass(frozen=True, slots=True)
class AdvisoryInstanceLock:
    engine: Engine
    connection: Connection
    key: int

    def release(self) -> None:
        try:
            self.connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
            self.connection.commit()
        finally:
            self.connection.close()
            self.engine.dispose()


def lock_file_path(database_path: Path, instance_id: str) -> Path:
    return database_path.with_name(f"{database_path.name}.{instance_id}.lock")


def advisory_key(instance_id: str) -> int:
    """A signed 64-bit key (PostgreSQL's bigint) from the instance id; stable across processes."""
    digest = hashlib.blake2b(f"mmbot:{instance_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def acquire_instance_lock(database_url: str, instance_id: str) -> InstanceLock:
    """Hold the store for `instance_id`, or raise `InstanceLocked` (one line naming both)."""
    url = make_url(database_url)
    backend = url.get_backend_name()
    if backend == "sqlite":
        if url.database in (None, "", ":memory:"):
            return NoLock()
        return _lock_sqlite_file(Path(url.database), instance_id)
    if backend == "postgresql":
        return _lock_postgresql(database_url, instance_id)
    log.warning(
        "no single-instance guard for a %s database: make sure one process runs instance %s",
        backend,
        instance_id,
    )
    return NoLock()


def _lock_sqlite_file(database: Path, instance_id: str) -> InstanceLock:
    path = lock_file_path(database, instance_id)
    # is_singleton=False and a new object per bot: a second bot in this very process must be
    # refused too (flock locks conflict between two open files even within one process).
    lock = FileLock(path, timeout=0, thread_local=False)
    try:
        lock.acquire()
    except Timeout:
        raise InstanceLocked(
            f"another mmbot process runs instance {instance_id} on {database} (lock {path} is held)"
        ) from None
    except OSError as exc:
        line = f"cannot create the instance lock {path}: {exc.strerror}"
        raise StartupError(ExitCode.STORE_UNAVAILABLE, [line]) from None
    return FileInstanceLock(lock)


def _lock_postgresql(database_url: str, instance_id: str) -> InstanceLock:
    key = advisory_key(instance_id)
    engine = create_engine(database_url)
    connection = engine.connect()
    try:
        got = connection.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar()
        connection.commit()
    except Exception:
        connection.close()
        engine.dispose()
        raise
    if not got:
        connection.close()
        engine.dispose()
        safe = make_url(database_url).render_as_string(hide_password=True)
        raise InstanceLocked(
            f"another mmbot process runs instance {instance_id} on {safe} (advisory lock {key} is held)"
        )
    return AdvisoryInstanceLock(engine, connection, key)


def instance_running(database_url: str, instance_id: str) -> bool | None:
    """Whether a process holds `instance_id`'s lock on this store now (None: cannot tell, e.g. a
    backend without a lock). Read-only for PostgreSQL (`pg_locks`); for a SQLite file the lock is
    taken and dropped at once, so a bot starting in that very instant may be refused (exit 4,
    restarted by its supervisor)."""
    url = make_url(database_url)
    backend = url.get_backend_name()
    if backend == "sqlite" and url.database not in (None, "", ":memory:"):
        path = lock_file_path(Path(url.database), instance_id)
        if not path.exists():
            return False
        probe = FileLock(path, timeout=0, thread_local=False)
        try:
            probe.acquire()
        except Timeout:
            return True
        probe.release(force=True)
        return False
    if backend == "postgresql":
        key = advisory_key(instance_id) & 0xFFFF_FFFF_FFFF_FFFF  # pg_locks shows the two oid halves
        query = text(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND classid::bigint = :high AND objid::bigint = :low AND objsubid = 1"
        )
        engine = create_engine(database_url)
        try:
            with engine.connect() as conn:
                return bool(conn.execute(query, {"high": key >> 32, "low": key & 0xFFFF_FFFF}).scalar())
        finally:
            engine.dispose()
    return None
