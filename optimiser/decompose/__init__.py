"""Large days planned in parts side by side: regions in space (regions.py), the two sides of a
break between split-shift duties (duty_split.py), and what both share (side_by_side.py)."""
