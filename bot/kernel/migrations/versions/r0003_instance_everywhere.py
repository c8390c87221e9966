"""Revision 0003: the LP, cross-venue and fair-series tables carry the instance id too (#18 item 2),
and rows an earlier store could not attribute go to the one bot that wrote them.

Several bots sharing a database must not adopt each other's LP positions, hedge each other's
maker fills or read each other's fair series, so these tables get the column 0002 gave the trading
tables; the XEMM round trip's identity (one per maker fill) becomes instance + maker fill.

Attribution: a store used by one bot only (its client order ids, or its "start" events, name one
instance) has every unattributed row ("" after 0002 and here) set to that instance, so upgrading
keeps the bot's history, its flat-inventory baseline (the first balance snapshot) included. A store
that names several instances, or none, keeps "" (no bot reads those rows as its own).
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

NEW = (
    "lp_positions",
    "lp_actions",
    "lp_fees",
    "lp_gas",
    "lp_swaps",
    "hedge_trades",
    "lp_position_marks",
    "xemm_round_trips",
    "arb_trades",
    "mid_series",
)
FROM_0002 = ("orders", "order_events", "fills", "balance_snapshots", "pnl_snapshots", "events")


def upgrade() -> None:
    for name in NEW:
        with op.batch_alter_table(name) as batch:
            batch.add_column(sa.Column("instance_id", sa.String(), nullable=False, server_default=""))
            if name == "xemm_round_trips":
                batch.drop_constraint("uq_xemm_maker", type_="unique")
                batch.create_unique_constraint(
                    "uq_xemm_maker", ["instance_id", "maker_venue", "maker_symbol", "maker_trade_id"]
                )
        if name == "mid_series":  # its reads are per instance and market, in time order
            op.drop_index("ix_mid_series_market_ts", table_name=name)
            op.create_index("ix_mid_series_instance_market_ts", name, ["instance_id", "market", "ts_ns"])
        else:
            op.create_index(f"ix_{name}_instance_id", name, ["instance_id"])
    sole = sole_instance(op.get_bind())
    if sole is not None:
        for name in (*FROM_0002, *NEW):
            op.execute(
                sa.text(f"UPDATE {name} SET instance_id = :sole WHERE instance_id = ''").bindparams(sole=sole)
            )


def sole_instance(bind: sa.Connection) -> str | None:
    """The one instance the store's orders and start events name, or None (several, or none)."""
    named = {row[0] for row in bind.execute(sa.text("SELECT DISTINCT instance_id FROM orders")) if row[0]}
    for (detail,) in bind.execute(sa.text("SELECT detail FROM events WHERE kind = 'start'")):
        try:
            instance = json.loads(detail).get("instance_id")
        except (ValueError, AttributeError):
            continue  # a detail that is not a JSON object names nobody
        if isinstance(instance, str) and instance:
            named.add(instance)
    return named.pop() if len(named) == 1 else None


def downgrade() -> None:
    raise NotImplementedError("rows of several instances cannot go back into one unscoped store")
