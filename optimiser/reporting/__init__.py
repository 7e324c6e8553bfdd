"""Reports of comparisons and plans, and their charts (report.py)."""
