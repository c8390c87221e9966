"""Ground floor: domain types, venue events, order ids, clocks, the strict config base.

Imports nothing else of the project; every other layer builds on it.
"""
