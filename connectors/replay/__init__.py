"""A venue that replays a recorded L2 event file on the simulated clock (backtests): the replay
engine (book, queue and latency models, the compiled core) and the Venue adapter over it."""
