"""SQLAlchemy tables, repositories and migrations; repositories never commit."""
