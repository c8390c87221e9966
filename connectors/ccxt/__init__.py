"""Pieces of the ccxt venue adapter (connectors.ccxt_venue.CcxtVenue is the entry point)."""
