"""Integer column types of every table the bot writes: 64-bit on every backend.

Nanosecond timestamps (1.8e18 today), ticks, lots and sequence numbers overflow PostgreSQL's
32-bit INTEGER, so every integer column is BIGINT. Row ids are BIGINT too (the mid series writes
millions of rows a week), except on SQLite, where only a column declared exactly `INTEGER PRIMARY
KEY` is the autoincrementing rowid (and SQLite integers are 64-bit whatever the declared type).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer

ROW_ID = BigInteger().with_variant(Integer(), "sqlite")
