"""What the workflows answer, as typed values with aware datetimes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Reservation:
    """One item of REST_GetReservationsForSpace; times keep the offset the server sent."""

    ultimo_id: str
    description: str
    applicant_id: str
    applicant_name: str
    start: datetime
    end: datetime
    start_including_preparation: datetime
    end_including_cleanup: datetime
    status: str

    def to_json(self) -> dict[str, Any]:
        """Return the reservation as JSON-ready values, times in ISO 8601."""
        return {
            "ultimo_id": self.ultimo_id,
            "description": self.description,
            "applicant_id": self.applicant_id,
            "applicant_name": self.applicant_name,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "start_including_preparation": self.start_including_preparation.isoformat(),
            "end_including_cleanup": self.end_including_cleanup.isoformat(),
            "status": self.status,
        }
