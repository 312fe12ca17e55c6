"""Foreign wire formats roomline speaks."""
