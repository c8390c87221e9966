"""Quoting strategies: the vectorized quote core, its models and params, single- and multi-venue quoting."""
