"""Alembic migrations of the store, shipped inside the package so an installed bot upgrades its
own database (bot/kernel/schema.py runs them; `alembic` is never called from a checkout)."""
