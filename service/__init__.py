"""HTTP API and planner web page (issue 5)."""
