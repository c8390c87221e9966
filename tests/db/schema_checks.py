"""What every upgraded store must look like, on any backend: the models' schema exactly, every
integer column 64-bit."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from bot.kernel import control_store, lp_store, mid_series, store, tx_intent_store
from bot.kernel.schema import current_revision, head_revision
from strategies.xvenue import edge as xvenue_edge
from strategies.xvenue import obligation_store
from strategies.xvenue import store as xvenue_store

# Every module that declares tables, imported: the whole metadata, whatever the test imported.
TABLE_MODULES = (
    store,
    lp_store,
    control_store,
    mid_series,
    xvenue_store,
    xvenue_edge,
    obligation_store,
    tx_intent_store,
)

TABLES = 22


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
        differences = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert differences == [], differences
    inspector = sa.inspect(engine)
    tables = set(inspector.get_table_names()) - {"alembic_version"}
    assert tables == set(SQLModel.metadata.tables) and len(tables) == TABLES, tables
    declared = {
        (table, c["name"]): str(c["type"].compile(dialect=engine.dialect))
        for table in tables
        for c in inspector.get_columns(table)
        if isinstance(c["type"], sa.Integer)
    }
    expected = model_integer_columns(engine.dialect.name)
    assert declared == expected, set(declared.items()) ^ set(expected.items())
