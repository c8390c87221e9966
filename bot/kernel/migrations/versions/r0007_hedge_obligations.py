"""Revision 0007_hedge_obligations: XEMM's hedge obligations settle only by real fills (#22).

An obligation (a `xemm_round_trips` row) can be closed in part by an opposite maker fill
(`netted_base`), and every hedge order is stored before it is sent (`xemm_hedge_orders`), so an
order whose outcome is unknown blocks the next hedge until the venue says how it ended, across
restarts too.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.kernel.sql_types import ROW_ID

revision = "0007_hedge_obligations"
down_revision = "0006_hedge_carry"
branch_labels = None
depends_on = None

TEXT, BIG = sa.String(), sa.BigInteger()


def upgrade() -> None:
    with op.batch_alter_table("xemm_round_trips") as batch:
        batch.add_column(sa.Column("netted_base", TEXT, nullable=False, server_default="0"))
    op.create_table(
        "xemm_hedge_orders",
        sa.Column("id", ROW_ID, primary_key=True),
        sa.Column("strategy", TEXT, nullable=False),
        sa.Column("client_order_id", TEXT, nullable=False),
        sa.Column("taker_market", TEXT, nullable=False),
        sa.Column("side", TEXT, nullable=False),
        sa.Column("size_lots", BIG, nullable=False),
        sa.Column("limit_ticks", BIG, nullable=False),
        sa.Column("attempt", BIG, nullable=False),
        sa.Column("outcome", TEXT, nullable=False),
        sa.Column("filled_lots", BIG, nullable=False),
        sa.Column("booked_lots", BIG, nullable=False),
        sa.Column("booked_notional", TEXT, nullable=False),
        sa.Column("booked_fees", TEXT, nullable=False),
        sa.Column("error", TEXT, nullable=True),
        sa.Column("created_ns", BIG, nullable=False),
        sa.Column("settled_ns", BIG, nullable=True),
        sa.Column("instance_id", TEXT, nullable=False, server_default=""),
        sa.UniqueConstraint("instance_id", "client_order_id", name="uq_xemm_hedge_order"),
    )
    for column in ("strategy", "outcome", "instance_id"):
        op.create_index(f"ix_xemm_hedge_orders_{column}", "xemm_hedge_orders", [column])


def downgrade() -> None:
    op.drop_table("xemm_hedge_orders")
    with op.batch_alter_table("xemm_round_trips") as batch:
        batch.drop_column("netted_base")
