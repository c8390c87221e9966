"""Revision 0006_hedge_carry: the hedge's funding / borrow carry per LP position (#17 item 3).

The hedger charges its carry to the positions it hedges (`strategies.lp.accounts.HedgeCosts`); one
row per (hedger, position) keeps the running total, so `mmbot status` and the report count the
carry in each position's hedge cost, not only the trades' (`hedge_trades`).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.kernel.sql_types import ROW_ID

revision = "0006_hedge_carry"
down_revision = "0005_xemm_edges"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lp_hedge_carry",
        sa.Column("id", ROW_ID, primary_key=True),
        sa.Column("strategy", sa.String(), nullable=False),
        sa.Column("position_id", sa.BigInteger(), nullable=False),
        sa.Column("ts_ns", sa.BigInteger(), nullable=False),
        sa.Column("carry_quote", sa.Float(), nullable=False),
        sa.Column("instance_id", sa.String(), nullable=False, server_default=""),
    )
    for column in ("strategy", "position_id", "instance_id"):
        op.create_index(f"ix_lp_hedge_carry_{column}", "lp_hedge_carry", [column])


def downgrade() -> None:
    op.drop_table("lp_hedge_carry")
