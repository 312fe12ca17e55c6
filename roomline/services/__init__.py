"""Use cases: each opens one unit of work (a database transaction) and applies the rules."""
