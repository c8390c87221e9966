"""One module per schema revision, oldest first (Alembic loads them by path)."""
