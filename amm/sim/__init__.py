"""The simulated pool: an exact v3 pool model, a position manager, seeded swap flow."""
