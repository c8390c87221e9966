"""What `run` needs beyond a valid file, checked by `check-config` and again before anything starts.

- every credential variable a venue names is set (a venue's `*_env` fields; the ops token and the
  notification variables are optional: the endpoint answers 401, notifications stay off);
- the database is reachable and writable: for SQLite the folder takes a new file (the WAL and
  its index are created beside the database) and an existing file opens for writing, without
  creating the database itself; any other URL must accept a connection;
- the ops endpoint's port is free (wall clock only: a simulated run serves none).

Each problem is one `field.path: what is wrong` line, like a config error.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from bot.app.config import AppConfig
from bot.app.ops_port import ops_port_problem
from bot.kernel.store import resolve_database_url

_SQLITE = "sqlite:///"


def _env_fields(node: Any, path: str) -> Iterator[tuple[str, str]]:
    """(dotted path, variable name) of every `*_env` field set under `node` (a model dump)."""
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{path}.{key}"
            if key.endswith("_env") and isinstance(value, str):
                yield here, value
            else:
                yield from _env_fields(value, here)


def credential_problems(config: AppConfig) -> list[str]:
    problems = []
    for name, venue in config.venues.items():
        for path, env_name in _env_fields(venue.model_dump(), f"venues.{name}"):
            if not os.environ.get(env_name):
                problems.append(f"{path}: environment variable {env_name} is not set or empty")
    return problems


def _sqlite_problem(db_path: Path) -> str | None:
    folder = db_path.parent
    if not folder.is_dir():
        return f"{folder} is not a folder" if folder.exists() else f"folder {folder} does not exist"
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".mmbot-preflight-"):
            pass
        if db_path.exists():
            with db_path.open("r+b"):
                pass
    except OSError as exc:
        return f"cannot write in {folder}: {exc.strerror or exc}"
    return None


def database_problems(config: AppConfig, config_dir: Path) -> list[str]:
    url = resolve_database_url(config.bot.database_url, config_dir)
    if url.startswith(_SQLITE):
        path = url[len(_SQLITE) :]
        why = None if path in ("", ":memory:") else _sqlite_problem(Path(path))
    else:
        why = _connect_problem(url)
    return [] if why is None else [f"bot.database_url: {why}"]


def _connect_problem(url: str) -> str | None:
    try:
        engine = create_engine(url)
    except (SQLAlchemyError, ImportError, ValueError) as exc:
        return f"not a usable database URL ({type(exc).__name__}: {exc})"
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        # the driver's own message, first line: the rest repeats the statement and a help link
        cause = exc.orig if isinstance(exc, DBAPIError) else exc
        return f"cannot connect: {(str(cause).splitlines() or [type(cause).__name__])[0]}"
    finally:
        engine.dispose()
    return None


def port_problems(config: AppConfig) -> list[str]:
    """The ops endpoint's port taken (what `bot.app.ops_port` refuses at start), unless optional."""
    ops = config.bot.ops
    if config.bot.clock != "wall" or ops.optional:
        return []
    problem = ops_port_problem(ops)
    return [] if problem is None else [f"bot.ops.port: {problem}"]


def environment_problems(config: AppConfig, config_dir: Path) -> list[str]:
    """Credentials and database: what a restart cannot fix (exit CONFIG at start)."""
    return credential_problems(config) + database_problems(config, config_dir)


def preflight_problems(config: AppConfig, config_dir: Path) -> list[str]:
    """Everything `run` needs from its environment, one line per problem (none: ready to start)."""
    return environment_problems(config, config_dir) + port_problems(config)
