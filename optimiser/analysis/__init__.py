"""What plans mean: integration savings against separate contracts (compare.py), the cost split
between budget holders (apportion.py), and what-if variants side by side (scenarios.py)."""
