"""The app factory, the management and demo APIs, and health."""
