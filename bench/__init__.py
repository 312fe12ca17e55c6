"""roomline's benchmark harness: ``.venv/bin/python -m bench`` (see README, Performance)."""
