"""A venue that replays a recorded L2 event file on the simulated clock (backtests)."""

from connectors.replay.params import ReplayVenueParams
from connectors.replay.venue import ReplayVenue

__all__ = ["ReplayVenue", "ReplayVenueParams"]
