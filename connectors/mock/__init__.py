"""The mock venue adapter: our own matching engine, simulated order flow, and the `Venue` over them.

Layers (each usable alone): `matching` (one book, integer ticks/lots), `accounts` (exact Decimal
balances), `ledger` (our orders, fills and balances), `exchange` (the synchronous core with
explicit time), `flow` (seeded background liquidity and takers around a latent GBM fair price),
`venue` (asyncio adapter with latencies), `facade` (the mock served as a Binance-compatible API).
"""
