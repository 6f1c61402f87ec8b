"""Reports built from conversation records."""
