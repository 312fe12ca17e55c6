"""roomline: a self-hosted room reservation server speaking Ultimo's Reservations API."""

__version__ = "0.1.0"
