"""Revision 0002: every trading row carries the instance id of the bot that wrote it (#18 item 2).

Several bots may share one database; rows tell whose they are. Orders, their events and fills of
an earlier store get the instance from their client order id (`<instance>-<seq>`: instance ids
are lowercase letters and digits, so the first "-" ends it); balance and PnL snapshots and events
cannot be attributed and keep "" (written by the one bot that used the store before). The fill
identity becomes instance + venue + symbol + trade id: two accounts on venues of the same name
report trade ids of their own.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TABLES = ("orders", "order_events", "fills", "balance_snapshots", "pnl_snapshots", "events")
FROM_CLIENT_ORDER_ID = ("orders", "order_events", "fills")


def upgrade() -> None:
    bind = op.get_bind()
    for name in TABLES:
        with op.batch_alter_table(name) as batch:
            batch.add_column(sa.Column("instance_id", sa.String(), nullable=False, server_default=""))
            if name == "fills":
                batch.drop_constraint("uq_fill_identity", type_="unique")
                batch.create_unique_constraint(
                    "uq_fill_identity", ["instance_id", "venue", "symbol", "venue_trade_id"]
                )
        op.create_index(f"ix_{name}_instance_id", name, ["instance_id"])
    if bind.dialect.name == "postgresql":
        prefix = "split_part(client_order_id, '-', 1)"
    else:
        prefix = "substr(client_order_id, 1, instr(client_order_id, '-') - 1)"
    for name in FROM_CLIENT_ORDER_ID:
        op.execute(f"UPDATE {name} SET instance_id = {prefix} WHERE client_order_id LIKE '%-%'")


def downgrade() -> None:
    raise NotImplementedError("rows of several instances cannot go back into one unscoped store")
