"""Alembic environment: runs on the connection bot/kernel/schema.py passes in, which already holds
the upgrade lock (no URL, no logging setup of its own: the bot configured both)."""

from __future__ import annotations

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=None)
with context.begin_transaction():
    context.run_migrations()
