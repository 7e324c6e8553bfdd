"""Trip files, road networks and travel-time matrices, plans out as geodata (issue 4)."""
