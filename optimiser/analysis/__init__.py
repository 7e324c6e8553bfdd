"""What plans mean: integration savings against separate contracts (compare.py), the cost split
between budget holders (apportion.py), what-if variants side by side (scenarios.py),
the clock advisor (clock.py) and today's contracts: chains, duplicates, occupancy (contracts.py)."""
