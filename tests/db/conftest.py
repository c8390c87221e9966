"""A real PostgreSQL server for the store tests: started once per session, stopped at its end.

The server is the machine's PostgreSQL (Debian's /usr/lib/postgresql/<v>/bin, or initdb on PATH):
`.ci/run` installs it when missing. initdb and postgres refuse to run as root, so under root they
run as the `postgres` system user in a temporary folder it owns. The server listens on 127.0.0.1
only, on a free port, its unix socket in that folder; fsync is off (a test server, thrown away).

Without a server: the tests fail in CI (env CI set, where .ci/run installed one, so its absence is
a broken CI machine) and skip with the reason elsewhere.
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

DRIVERS = ("psycopg", "psycopg2")  # psycopg 3 first: SQLAlchemy 2.1's default for postgresql://


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"PostgreSQL tests cannot run in CI: {reason}", pytrace=False)
    pytest.skip(reason)


def find_bindir() -> Path | None:
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if versions:
        return versions[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PostgresServer:
    host: str
    port: int
    version: str
    _names: Iterator[int]

    def url(self, driver: str = "psycopg", database: str = "postgres") -> str:
        return f"postgresql+{driver}://postgres@{self.host}:{self.port}/{database}"

    def new_database(self) -> str:
        """An empty database of its own for one test; its name."""
        name = f"t{next(self._names)}"
        engine = sa.create_engine(self.url(), isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {name}")
        engine.dispose()
        return name


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt("SIGTERM")


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    bindir = find_bindir()
    if bindir is None:
        _unavailable("no PostgreSQL server binaries (initdb, pg_ctl): `apt-get install -y postgresql`")
    assert bindir is not None
    root = Path(tempfile.mkdtemp(prefix="mmbot-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb and postgres refuse root: run them as the postgres user
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(root)
            _unavailable("running as root and there is no `postgres` system user to run the server as")
        os.chown(root, user.pw_uid, user.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    data, log = root / "data", root / "server.log"
    port = _free_port()
    options = f"-h 127.0.0.1 -p {port} -k {root} -c fsync=off -c full_page_writes=off"
    started = False
    try:
        for step in (
            [
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
            [
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-o",
                options,
                "-l",
                str(log),
                "-w",
                "-t",
                "30",
                "start",
            ],
        ):
            done = subprocess.run([*as_user, *step], capture_output=True, text=True, timeout=60, check=False)
            if done.returncode != 0:
                server_log = log.read_text() if log.exists() else ""
                _unavailable(f"{Path(step[0]).name} failed: {done.stdout}{done.stderr}{server_log}"[-2000:])
        started = True
        # A SIGTERM (a CI timeout, `timeout`, kill) would end pytest without teardown and leave the
        # server running: turn it into the interrupt pytest unwinds from, fixtures included.
        previous = signal.signal(signal.SIGTERM, _interrupt)
        version = subprocess.run(
            [str(bindir / "postgres"), "--version"], capture_output=True, text=True, check=True
        ).stdout.strip()
        yield PostgresServer("127.0.0.1", port, version, itertools.count(1))
    finally:
        if started:
            signal.signal(signal.SIGTERM, previous)
            subprocess.run(
                [*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                capture_output=True,
                timeout=60,
                check=False,
            )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pg_database(postgres: PostgresServer) -> str:
    return postgres.new_database()


@pytest.fixture(params=DRIVERS)
def pg_url(request: pytest.FixtureRequest, postgres: PostgresServer, pg_database: str) -> str:
    """A fresh database, through each supported driver in turn."""
    return postgres.url(request.param, pg_database)
