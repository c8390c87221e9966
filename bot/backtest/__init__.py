"""Backtesting on L2 event data: the columnar file format, a fast replay core with queue and
latency models, and the glue that replays a file through the normal Bot on the simulated clock."""
