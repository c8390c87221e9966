"""Paper trading on live market data: a ccxt exchange's public streams, our orders simulated."""
