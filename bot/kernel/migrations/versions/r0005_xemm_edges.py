"""Revision 0005_xemm_edges: XEMM's edge per round trip against its quote's assumed hedge price
(#22 item 7, strategies/xvenue/edge.py): one row per hedged round trip."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.kernel.sql_types import ROW_ID

revision = "0005_xemm_edges"
down_revision = "0004_chain_tx_intents"
branch_labels = None
depends_on = None

TEXT, BIG, FLOAT = sa.String(), sa.BigInteger(), sa.Float()


def upgrade() -> None:
    op.create_table(
        "xemm_edges",
        sa.Column("id", ROW_ID, primary_key=True),
        sa.Column("round_trip_id", BIG, nullable=False),
        sa.Column("strategy", TEXT, nullable=False),
        sa.Column("maker_market", TEXT, nullable=False),
        sa.Column("maker_side", TEXT, nullable=False),
        sa.Column("size_base", TEXT, nullable=False),
        sa.Column("maker_price", TEXT, nullable=False),
        sa.Column("assumed_hedge_price", TEXT, nullable=False),
        sa.Column("assumed_from", TEXT, nullable=False),
        sa.Column("taker_at_fill_price", TEXT, nullable=False),
        sa.Column("realised_hedge_price", TEXT, nullable=False),
        sa.Column("shortfall_bps", FLOAT, nullable=False),
        sa.Column("realised_edge_bps", FLOAT, nullable=False),
        sa.Column("ts_ns", BIG, nullable=False),
        sa.Column("instance_id", TEXT, nullable=False, server_default=""),
        sa.UniqueConstraint("instance_id", "round_trip_id", name="uq_xemm_edge_round_trip"),
    )
    for column in ("strategy", "ts_ns", "instance_id"):
        op.create_index(f"ix_xemm_edges_{column}", "xemm_edges", [column])


def downgrade() -> None:
    op.drop_table("xemm_edges")
