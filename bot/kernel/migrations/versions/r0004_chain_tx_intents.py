"""Revision 0004_chain_tx_intents: the durable journal of on-chain transactions (#21 item 1).

Every transaction the LP manager signs is stored before it is sent (bot/kernel/tx_intent_store.py),
so its outcome can be settled from the chain after any failure, restart or hot reload.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.kernel.sql_types import ROW_ID

revision = "0004_chain_tx_intents"
down_revision = "0003"
branch_labels = None
depends_on = None

TEXT, BIG = sa.String(), sa.BigInteger()


def upgrade() -> None:
    op.create_table(
        "chain_tx_intents",
        sa.Column("id", ROW_ID, primary_key=True),
        sa.Column("strategy", TEXT, nullable=False),
        sa.Column("pool", TEXT, nullable=False),
        sa.Column("kind", TEXT, nullable=False),
        sa.Column("label", TEXT, nullable=False),
        sa.Column("sender", TEXT, nullable=False),
        sa.Column("nonce", BIG, nullable=False),
        sa.Column("tx_hash", TEXT, nullable=False),
        sa.Column("hashes", TEXT, nullable=False),
        sa.Column("to_address", TEXT, nullable=False),
        sa.Column("calldata", TEXT, nullable=False),
        sa.Column("value_wei", TEXT, nullable=False),
        sa.Column("max_fee_wei", TEXT, nullable=False),
        sa.Column("tip_wei", TEXT, nullable=False),
        sa.Column("bounds", TEXT, nullable=False),
        sa.Column("context", TEXT, nullable=False),
        sa.Column("created_ns", BIG, nullable=False),
        sa.Column("updated_ns", BIG, nullable=False),
        sa.Column("outcome", TEXT, nullable=True),
        sa.Column("block_number", BIG, nullable=True),
        sa.Column("gas_cost_wei", TEXT, nullable=True),
        sa.Column("booked", sa.Boolean(), nullable=False),
        sa.Column("result", TEXT, nullable=True),
        sa.Column("instance_id", TEXT, nullable=False, server_default=""),
    )
    for column in ("strategy", "outcome", "instance_id"):
        op.create_index(f"ix_chain_tx_intents_{column}", "chain_tx_intents", [column])


def downgrade() -> None:
    op.drop_table("chain_tx_intents")
