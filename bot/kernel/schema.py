"""The store's schema: Alembic migrations (bot/kernel/migrations), run at every start under a lock.

Every `Store` upgrades its database to the newest revision before anything reads or writes it
(`mmbot db upgrade` does the same alone). The check is one SELECT when the store is current; an
upgrade runs under a lock, so bots starting together on an empty database do not race each other
into the same CREATE TABLE (PostgreSQL's catalog then refuses the second: `pg_type_typname_nsp_index`):

- PostgreSQL: a transaction-scoped advisory lock (`pg_advisory_xact_lock`) on the connection that
  migrates; the second bot waits, then finds the store current. PostgreSQL DDL is transactional,
  so a failed upgrade leaves the store as it was, and the lock goes with the transaction (a
  killed process included).
- SQLite file: an OS file lock on `<database>.schema-upgrade.lock` (released by the kernel when
  the process dies) around the whole check, so no connection is opened while another bot migrates.
- in-memory SQLite and other backends: no lock (nothing to share, or the operator's job).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from filelock import FileLock
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

MIGRATIONS = Path(__file__).with_name("migrations")
# A signed 64-bit key of its own: instance locks hash "mmbot:<instance id>" (bot/app/instance_lock.py).
UPGRADE_LOCK_KEY = int.from_bytes(
    hashlib.blake2b(b"mmbot-schema-upgrade", digest_size=8).digest(), "big", signed=True
)


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


@cache
def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "the package ships its migrations"
    return head


def current_revision(engine: Engine) -> str | None:
    """The store's revision; None for an empty database or one written before Alembic."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade_schema(engine: Engine) -> tuple[str | None, str]:
    """Bring the store to the newest revision; returns (revision before, revision after)."""
    head = head_revision()
    with _sqlite_file_lock(engine):
        before = current_revision(engine)
        if before == head:
            return before, head
        with _upgrade_transaction(engine) as conn:
            # Read again under the lock: a bot that started at the same time may have upgraded it.
            before = MigrationContext.configure(conn).get_current_revision()
            if before != head:
                command.upgrade(alembic_config(conn), "head")
    return before, head


@contextmanager
def _sqlite_file_lock(engine: Engine) -> Iterator[None]:
    """A SQLite file: the whole check under the file lock. A connection opened while another bot
    migrates (its first PRAGMAs included) could otherwise fail at once with "database is locked"."""
    database = engine.url.database
    if engine.dialect.name == "sqlite" and database not in (None, "", ":memory:"):
        with FileLock(f"{database}.schema-upgrade.lock", thread_local=False):
            yield
        return
    yield


@contextmanager
def _upgrade_transaction(engine: Engine) -> Iterator[Connection]:
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": UPGRADE_LOCK_KEY})
            yield conn
        return
    with engine.begin() as conn:
        yield conn
