"""What every upgraded store must look like, on any backend: the models' schema exactly, every
integer column 64-bit."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import strategies.xvenue.store  # noqa: F401  (every table module: the whole metadata)
from bot.kernel.schema import current_revision, head_revision

TABLES = 17


def model_integer_columns(dialect: str) -> dict[tuple[str, str], str]:
    """(table, column) -> the declared integer type the models give on `dialect`."""
    out = {}
    for table in SQLModel.metadata.tables.values():
        for column in table.columns:
            if isinstance(column.type, sa.Integer):
                rowid = dialect == "sqlite" and column.primary_key
                out[(table.name, column.name)] = "INTEGER" if rowid else "BIGINT"
    return out


def assert_schema_is_the_models(engine: sa.Engine) -> None:
    assert current_revision(engine) == head_revision()
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), SQLModel.metadata) == []
    inspector = sa.inspect(engine)
    tables = set(inspector.get_table_names()) - {"alembic_version"}
    assert tables == set(SQLModel.metadata.tables) and len(tables) == TABLES
    declared = {
        (table, c["name"]): str(c["type"].compile(dialect=engine.dialect))
        for table in tables
        for c in inspector.get_columns(table)
        if isinstance(c["type"], sa.Integer)
    }
    assert declared == model_integer_columns(engine.dialect.name)
