"""The trading path: engine, market state, order diff and manager, risk, portfolio, store,
reconciliation, pauses, strategy context.

Imports only bot.core and the venue port connectors.base.
"""
