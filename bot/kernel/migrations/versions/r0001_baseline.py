"""Revision 0001: the first schema under Alembic, 64-bit integers everywhere.

Creates the tables of bot/kernel/migrations/baseline.py in an empty database, and brings the
tables of a store written by an earlier mmbot (no Alembic, 32-bit INTEGER columns, columns patched
in by the former `Store.add_missing_columns`) to the same definition, rows kept.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.engine import Connection
from sqlalchemy.schema import CreateTable

from bot.kernel.migrations.baseline import LEGACY_DEFAULTS, schema

BIG = sa.BigInteger

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    present = set(sa.inspect(bind).get_table_names())
    for table in schema().sorted_tables:
        if table.name not in present:
            table.create(bind)
        elif bind.dialect.name == "sqlite":
            _rebuild_sqlite(bind, table)
        else:
            _alter_in_place(bind, table)


def downgrade() -> None:
    raise NotImplementedError("revision 0001 is the first: there is no earlier schema to go back to")


def _legacy_value(table: sa.Table, column: sa.Column[object]) -> str | None:
    default = LEGACY_DEFAULTS.get((table.name, column.name))
    if default is None and not column.nullable:
        raise RuntimeError(f"{table.name}.{column.name} is missing from the store and has no default")
    return default


def _rebuild_sqlite(bind: Connection, table: sa.Table) -> None:
    """SQLite cannot change a column's declared type: a new table, the rows copied, the old one
    dropped and the new one renamed (indexes dropped first: their names are global)."""
    inspector = sa.inspect(bind)
    had = {c["name"] for c in inspector.get_columns(table.name)}
    for reflected in inspector.get_indexes(table.name):
        bind.exec_driver_sql(f'DROP INDEX "{reflected["name"]}"')
    new_name = f"_new_{table.name}"
    bind.execute(CreateTable(table.to_metadata(sa.MetaData(), name=new_name)))
    names, values = [], []
    for column in table.columns:
        default = LEGACY_DEFAULTS.get((table.name, column.name))
        names.append(f'"{column.name}"')
        if column.name not in had:
            value = _legacy_value(table, column)
            values.append("NULL" if value is None else f"'{value}'")
        elif default is not None:  # a patched-in column: NULL where the patch gave no default
            values.append(f"COALESCE(\"{column.name}\", '{default}')")
        else:
            values.append(f'"{column.name}"')
    bind.exec_driver_sql(
        f'INSERT INTO "{new_name}" ({", ".join(names)}) SELECT {", ".join(values)} FROM "{table.name}"'
    )
    bind.exec_driver_sql(f'DROP TABLE "{table.name}"')
    bind.exec_driver_sql(f'ALTER TABLE "{new_name}" RENAME TO "{table.name}"')
    for index in table.indexes:
        index.create(bind)


def _alter_in_place(bind: Connection, table: sa.Table) -> None:
    """PostgreSQL (and any backend that alters types in place): missing columns added, 32-bit
    integer columns widened to BIGINT, with the sequence of a SERIAL row id."""
    inspector = sa.inspect(bind)
    had = {c["name"]: c for c in inspector.get_columns(table.name)}
    for column in table.columns:
        if column.name not in had:
            value = _legacy_value(table, column)
            op.add_column(
                table.name, sa.Column(column.name, column.type, nullable=True, server_default=value)
            )
            if value is not None:  # the default was for the old rows only, as in this schema
                op.alter_column(table.name, column.name, server_default=None, nullable=column.nullable)
        elif isinstance(column.type, sa.BigInteger) and not isinstance(
            had[column.name]["type"], sa.BigInteger
        ):
            op.alter_column(table.name, column.name, type_=sa.BigInteger(), existing_nullable=column.nullable)
            if column.primary_key and bind.dialect.name == "postgresql":
                sequence = bind.execute(
                    sa.text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": table.name, "c": column.name}
                ).scalar()
                if sequence is not None:
                    bind.exec_driver_sql(f"ALTER SEQUENCE {sequence} AS bigint")
    have_indexes = {index["name"] for index in inspector.get_indexes(table.name)}
    for index in table.indexes:
        if index.name not in have_indexes:
            index.create(bind)
