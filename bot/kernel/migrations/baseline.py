"""The schema of revision 0001 (the first under Alembic), frozen, and how a store gets there.

Frozen on purpose: later revisions change it through migrations, never by editing this file, so a
store upgraded today and one upgraded next year go through the same steps. Revision 0001 turns
what it finds into this schema:

- an empty database: every table, created;
- a store of an earlier mmbot (created by `create_all`, columns patched in later by the former
  `Store.add_missing_columns`, 32-bit INTEGER columns): each of its tables is brought to this
  definition with its rows kept. SQLite cannot change a column's type in place, so a table is
  rebuilt (new table, rows copied, old dropped, renamed); PostgreSQL alters the columns to BIGINT
  (and the row id sequences with them). Columns missing from an older store take the value the
  former patching gave them (NULL, or the default named in LEGACY_DEFAULTS).
"""

from __future__ import annotations

import sqlalchemy as sa

from bot.kernel.sql_types import ROW_ID

BIG, TEXT, FLOAT, BOOL = sa.BigInteger(), sa.String(), sa.Float(), sa.Boolean()

# Columns added to tables after their first release, NOT NULL in this schema: what an older
# row gets (the Python default the bot wrote them with, as add_missing_columns did).
LEGACY_DEFAULTS: dict[tuple[str, str], str] = {
    ("lp_swaps", "venue"): "pool",
    ("arb_trades", "unwind_base"): "0",
    ("arb_trades", "unhedged_base"): "0",
    ("arb_trades", "cex_filled_base"): "0",
    ("arb_trades", "cex_notional"): "0",
    ("arb_trades", "cex_fees"): "0",
}


def schema() -> sa.MetaData:
    """A fresh MetaData holding every table of revision 0001."""
    md = sa.MetaData()
    sa.Table(
        "arb_trades",
        md,
        sa.Column("id", ROW_ID, primary_key=True),
        sa.Column("strategy", TEXT, nullable=False, index=True),
        sa.Column("ts_ns", BIG, nullable=False, index=True),
        sa.Column("direction", TEXT, nullable=False),
        sa.Column("size_base", TEXT, nullable=False),
        sa.Column("expected_profit_quote", TEXT, nullable=False),
        sa.Column("realised_profit_quote", TEXT, nullable=True),
        sa.Column("pool_amount_in", TEXT, nullable=False),
        sa.Column("pool_amount_out", TEXT, nullable=False),
        sa.Column("gas_quote", TEXT, nullable=False),
        sa.Column("cex_filled_base", TEXT, nullable=False),
        sa.Column("cex_notional", TEXT, nullable=False),
        sa.Column("cex_fees", TEXT, nullable=False),
        sa.Column("pool_price_before", FLOAT, nullable=False),
        sa.Column("pool_price_after", FLOAT, nullable=True),
        sa.Column("cex_mid", FLOAT, nullable=False),
        sa.Column("status", TEXT, nullable=False),
        sa.Column("failure", TEXT, nullable=True),
        sa.Column("unwind_base", TEXT, nullable=False),
        sa.Column("unhedged_base", TEXT, nullable=False),
        sa.Column("unhedged_ms", FLOAT, nullable=True),
    )
    sa.Table(
        "balance_snapshots",
        md,
        sa.Column("id", ROW_ID, primary_key=True),
        sa.Column("venue", TEXT, nullable=False, index=True),
        sa.Column("asset", TEXT, nullable=False),
        sa.Column("free", TEXT, nullable=False),
        sa.Column("locked", TEXT, nullable=False),
        sa.Column("ts_ns", BIG, nullable=False, index=True),
        sa.Column("reason", TEXT, nullable=False),
    )
    sa.Table(
        "control_state",
        md,
        sa.Column("instance_id", TEXT, primary_key=True),
        sa.Column("name", TEXT, primary_key=True),
        sa.Column("value", TEXT, nullable=False),
        sa.Column("updated_ns", BIG, nullable=False),
    )
    sa.Table(
        "events",
        md,
        sa.Column("id", ROW_ID, primary_key=True),
        sa.Column("ts_ns", BIG, nullable=False, index=True),
        sa.Column("kind", TEXT, nullable=False, index=True),
        sa.Column("detail", TEXT, nullable=False),
    )
    sa.Table(
        "fills",
        md,
        sa.Column("id", ROW_ID, primary_key=True),
        sa.Column("venue", TEXT, nullable=False, index=True),
        sa.Column("symbol", TEXT, nullable=False),
        sa.Column("venue_trade_id", TEXT, nullable=False),
        sa.Column("venue_order_id", TEXT, nullable=False),
        sa.Column("client_order_id", TEXT, nullable=False, index=True),
        sa.Column("side", TEXT, nullable=False),
        sa.Column("price_ticks", BIG, nullable=False),
        sa.Column("size_lots", BIG, nullable=False),
        sa.Column("price", TEXT, nullable=False),
        sa.Column("size", TEXT, nullable=False),
        sa.Column("fee", TEXT, nullable=False),
        sa.Column("fee_asset", TEXT, nullable=False),
        sa.Column("is_maker", BOOL, nullable=False),
        sa.Column("exchange_ts_ns", BIG, nullable=False, index=True),
        sa.Column("fair_at_fill", FLOAT, nullable=True),
        sa.Column("mid_at_fill", TEXT, nullable=True),
        sa.UniqueConstraint("venue", "symbol", "venue_trade_id", name="uq_fill_identity"),
    )
    sa.Table(
        "hedge_trades",
        md,
        sa.Column("id", ROW_ID, primary_key=True),
        sa.Column("strategy", TEXT, nullable=False, index=True),
        sa.Column("market", TEXT, nullable=False),
        sa.Column("ts_ns", BIG, nullable=False),
        sa.Column("client_order_id", TEXT, nullable=False),
        sa.Column("side", TEXT, nullable=False),
        sa.Column("price", TEXT, nullable=False),
        sa.Column("size", TEXT, nullable=False),
        sa.Column("fee", TEXT, nullable=False),
        sa.Column("is_maker", BOOL, nullable=False),
        sa.Column("mid_at_decision", FLOAT, nullable=False),
        sa.Column("cost_quote", FLOAT, nullable=False),
    )
    sa.Table(
        "lp_actions",
        md,
        sa.Column("id", ROW_ID, primary_key=True),
        sa.Column("strategy", TEXT, nullable=False, index=True),
        sa.Column("pool", TEXT, nullable=False),
        sa.Column("ts_ns", BIG, nullable=False, index=True),
        sa.Column("action", TEXT, nullable=False),
        sa.Column("reason", TEXT, nullable=False),
        sa.Column("executed", BOOL, nullable=False),
        sa.Column("numbers", TEXT, nullable=False),
    )
    sa.Table(
        "lp_fees",
        md,
        sa.Column("id", ROW_ID, primary_key=True),
        sa.Column("strategy", TEXT, nullable=False, index=True),
        sa.Column("pool", TEXT, nullable=False),
        sa.Column("token_id", BIG, nullable=False),
        sa.Column("ts_ns", BIG, nullable=False),
        sa.Column("amount0", TEXT, nullable=False),
        sa.Column("amount1", TEXT, nullable=False),
        sa.Column("value_token1", FLOAT, nullable=False),
    )
    sa.Table(
        "lp_gas",
        md,
        sa.Column("id", ROW_ID, primary_key=True),
        sa.Column("strategy", TEXT, nullable=False, index=True),
        sa.Column("pool", TEXT, nullable=False),
        sa.Column("ts_ns", BIG, nullable=False),
        sa.Column("operation", TEXT, nullable=False),
        sa.Column("gas_wei", TEXT, nullable=False),
        sa.Column("cost_token1", FLOAT, nullable=False),
    )
    sa.Table(
        "lp_position_marks",
        md,
        sa.Column("id", ROW_ID, primary_key=True),
        sa.Column("position_id", BIG, nullable=False, index=True, unique=True),
        sa.Column("ts_ns", BIG, nullable=False),
        sa.Column("lvr_realized_token1", FLOAT, nullable=False),
        sa.Column("lvr_expected_token1", FLOAT, nullable=False),
        sa.Column("pending_fees_token1", FLOAT, nullable=False),
        sa.Column("swap_cost_token1", FLOAT, nullable=False),
    )
    sa.Table(
        "lp_positions",
        md,
        sa.Column("id", ROW_ID, primary_key=True),
        sa.Column("strategy", TEXT, nullable=False, index=True),
        sa.Column("pool", TEXT, nullable=False, index=True),
        sa.Column("token_id", BIG, nullable=False),
        sa.Column("tick_lower", BIG, nullable=False),
        sa.Column("tick_upper", BIG, nullable=False),
        sa.Column("liquidity", TEXT, nullable=False),
        sa.Column("amount0_in", TEXT, nullable=False),
        sa.Column("amount1_in", TEXT, nullable=False),
        sa.Column("value_in_token1", FLOAT, nullable=False),
        sa.Column("opened_ns", BIG, nullable=False),
        sa.Column("closed_ns", BIG, nullable=True, index=True),
        sa.Column("amount0_out", TEXT, nullable=True),
        sa.Column("amount1_out", TEXT, nullable=True),
        sa.Column("close_reason", TEXT, nullable=True),
    )
    sa.Table(
        "lp_swaps",
        md,
        sa.Column("id", ROW_ID, primary_key=True),
        sa.Column("strategy", TEXT, nullable=False, index=True),
        sa.Column("pool", TEXT, nullable=False),
        sa.Column("ts_ns", BIG, nullable=False),
        sa.Column("zero_for_one", BOOL, nullable=False),
        sa.Column("amount_in", TEXT, nullable=False),
        sa.Column("amount_out", TEXT, nullable=False),
        sa.Column("cost_token1", FLOAT, nullable=False),
        sa.Column("venue", TEXT, nullable=False),
    )
    sa.Table(
        "mid_series",
        md,
        sa.Column("id", ROW_ID, primary_key=True),
        sa.Column("market", TEXT, nullable=False),
        sa.Column("ts_ns", BIG, nullable=False),
        sa.Column("mid", FLOAT, nullable=False),
        sa.Index("ix_mid_series_market_ts", "market", "ts_ns"),
    )
    sa.Table(
        "order_events",
        md,
        sa.Column("id", ROW_ID, primary_key=True),
        sa.Column("client_order_id", TEXT, nullable=False, index=True),
        sa.Column("state", TEXT, nullable=False),
        sa.Column("filled_lots", BIG, nullable=False),
        sa.Column("ts_ns", BIG, nullable=False),
        sa.Column("reason", TEXT, nullable=True),
    )
    sa.Table(
        "orders",
        md,
        sa.Column("client_order_id", TEXT, primary_key=True),
        sa.Column("seq", BIG, nullable=False, index=True),
        sa.Column("venue", TEXT, nullable=False, index=True),
        sa.Column("symbol", TEXT, nullable=False),
        sa.Column("side", TEXT, nullable=False),
        sa.Column("price_ticks", BIG, nullable=False),
        sa.Column("size_lots", BIG, nullable=False),
        sa.Column("price", TEXT, nullable=False),
        sa.Column("size", TEXT, nullable=False),
        sa.Column("post_only", BOOL, nullable=False),
        sa.Column("state", TEXT, nullable=False, index=True),
        sa.Column("venue_order_id", TEXT, nullable=True),
        sa.Column("filled_lots", BIG, nullable=False),
        sa.Column("created_ns", BIG, nullable=False),
        sa.Column("updated_ns", BIG, nullable=False),
        sa.Column("reason", TEXT, nullable=True),
    )
    sa.Table(
        "pnl_snapshots",
        md,
        sa.Column("id", ROW_ID, primary_key=True),
        sa.Column("market", TEXT, nullable=False, index=True),
        sa.Column("ts_ns", BIG, nullable=False, index=True),
        sa.Column("position_base", TEXT, nullable=False),
        sa.Column("cash_quote", TEXT, nullable=False),
        sa.Column("fees_quote", TEXT, nullable=False),
        sa.Column("mid", TEXT, nullable=False),
        sa.Column("pnl_quote", TEXT, nullable=False),
    )
    sa.Table(
        "xemm_round_trips",
        md,
        sa.Column("id", ROW_ID, primary_key=True),
        sa.Column("strategy", TEXT, nullable=False, index=True),
        sa.Column("maker_venue", TEXT, nullable=False),
        sa.Column("maker_symbol", TEXT, nullable=False),
        sa.Column("maker_trade_id", TEXT, nullable=False),
        sa.Column("taker_market", TEXT, nullable=False),
        sa.Column("maker_side", TEXT, nullable=False),
        sa.Column("maker_price", TEXT, nullable=False),
        sa.Column("size_base", TEXT, nullable=False),
        sa.Column("maker_fee", TEXT, nullable=False),
        sa.Column("expected_hedge_price", TEXT, nullable=False),
        sa.Column("hedged_base", TEXT, nullable=False),
        sa.Column("hedge_notional", TEXT, nullable=False),
        sa.Column("hedge_fees", TEXT, nullable=False),
        sa.Column("attempts", BIG, nullable=False),
        sa.Column("status", TEXT, nullable=False, index=True),
        sa.Column("realised_edge_quote", TEXT, nullable=True),
        sa.Column("realised_edge_bps", FLOAT, nullable=True),
        sa.Column("fill_ts_ns", BIG, nullable=False),
        sa.Column("done_ts_ns", BIG, nullable=True),
        sa.UniqueConstraint("maker_venue", "maker_symbol", "maker_trade_id", name="uq_xemm_maker"),
    )
    return md
