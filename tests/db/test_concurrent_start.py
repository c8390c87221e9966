"""Two bots starting together on an empty database: both upgrade-or-create the schema, both
succeed, and the store ends at the newest revision once (before: one died on
`UniqueViolation ... pg_type_typname_nsp_index` in create_all)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import sqlalchemy as sa

from bot.kernel.schema import head_revision
from bot.kernel.store import Store
from tests.db.schema_checks import assert_schema_is_the_models

ROOT = Path(__file__).resolve().parents[2]
# Each process imports everything first, then waits for the go file, so both reach the upgrade
# at the same moment rather than one a second import ahead of the other.
OPEN_STORE = """
import sys, time
from pathlib import Path
from bot.kernel.store import Store
go = Path(sys.argv[2])
(go.parent / f"ready-{sys.argv[3]}").touch()
while not go.exists():
    time.sleep(0.001)
store = Store(sys.argv[1])
store.record_event("start", 1796547691768956168, pid=sys.argv[3])
store.close()
"""


def _versions(url: str) -> list[str]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = [r[0] for r in conn.exec_driver_sql("SELECT version_num FROM alembic_version")]
    engine.dispose()
    return rows


def test_two_processes_start_together_on_an_empty_postgresql_database(postgres, pg_database, tmp_path):
    url = postgres.url("psycopg", pg_database)
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", OPEN_STORE, url, str(go), str(n)],
            cwd=ROOT,
            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for n in (1, 2)
    ]
    try:
        ready = [tmp_path / "ready-1", tmp_path / "ready-2"]
        while not all(r.exists() for r in ready):  # both imported everything
            assert all(p.poll() is None for p in procs), [p.communicate()[0] for p in procs]
            time.sleep(0.01)
        go.touch()
        outputs = [p.communicate(timeout=120)[0] for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert _versions(url) == [head_revision()]
    store = Store(url)
    assert_schema_is_the_models(store.engine)
    assert sorted(e.detail for e in store.events()) == ['{"pid": "1"}', '{"pid": "2"}']
    store.close()


def _start_together(url: str, n: int = 2) -> list[BaseException]:
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def start() -> None:
        barrier.wait()
        try:
            Store(url).close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)  # a bound on a hang (two creators waiting on each other), not a timing
    assert not any(t.is_alive() for t in threads), "a start never finished"
    return errors


def test_two_threads_start_together_on_an_empty_postgresql_database(pg_url):
    assert _start_together(pg_url) == []
    assert _versions(pg_url) == [head_revision()]


def test_two_threads_start_together_on_a_new_sqlite_file(tmp_path):
    url = f"sqlite:///{tmp_path}/new.sqlite"
    assert _start_together(url) == []
    assert _versions(url) == [head_revision()]
    store = Store(url)
    assert_schema_is_the_models(store.engine)
    store.close()
