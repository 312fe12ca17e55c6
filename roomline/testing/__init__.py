"""Testing against a stand-in Ultimo: the ``ultimo_standin`` pytest fixture and the
classes behind it (docs/testing-integrations.md)."""

from roomline.testing.standin import (
    Clock,
    Faults,
    StandInError,
    StandInServer,
    UltimoStandIn,
)

__all__ = ["Clock", "Faults", "StandInError", "StandInServer", "UltimoStandIn"]
