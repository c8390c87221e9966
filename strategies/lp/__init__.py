"""LP management: the Uniswap v3 LP manager, its rules and params, and the delta hedger."""
