"""The ccxt venue adapter (connectors.ccxt.venue.CcxtVenue is the entry point)."""
