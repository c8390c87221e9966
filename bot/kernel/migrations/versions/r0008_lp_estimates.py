"""Revision 0008_lp_estimates: an LP pool manager's estimates (σ̂, the fee flow) are stored, one
row per (instance, strategy, pool) replaced in place, so a restart or a config reload resumes them
instead of measuring the pool again for hours before its first entry (#17)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.kernel.sql_types import ROW_ID

revision = "0008_lp_estimates"
down_revision = "0007_hedge_obligations"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lp_estimates",
        sa.Column("id", ROW_ID, primary_key=True),
        sa.Column("strategy", sa.String(), nullable=False),
        sa.Column("pool", sa.String(), nullable=False),
        sa.Column("ts_ns", sa.BigInteger(), nullable=False),
        sa.Column("estimates", sa.String(), nullable=False),
        sa.Column("instance_id", sa.String(), nullable=False, server_default=""),
    )
    for column in ("strategy", "instance_id"):
        op.create_index(f"ix_lp_estimates_{column}", "lp_estimates", [column])


def downgrade() -> None:
    op.drop_table("lp_estimates")
