"""Cross-venue strategies: XEMM and CEX/AMM arbitrage, with their legs, hedging and store."""
