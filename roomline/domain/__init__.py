"""Pure booking rules: standard library only, the current time always an argument."""
