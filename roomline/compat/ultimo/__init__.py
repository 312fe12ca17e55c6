"""Ultimo's Reservations connector: exact JSON shapes, error envelope and router.

Only this package knows Ultimo's casings (``Properties`` for create, ``properties``
elsewhere) and its ``{"message", "type", "code"}`` envelope; nothing below it imports it.
"""
