"""Reading the web view's query and form parameters: one way for every page.

Whole numbers are ASCII digits only and few of them: ``str.isdigit`` accepts "²" and "①",
which ``int`` refuses, and ``int`` refuses more than 4,300 digits outright. Dates must lie
in the years the server accepts as input, so that the day before, the week around and
the local midnights of any page stay within the calendar.
"""

from __future__ import annotations

import re
from datetime import date

from roomline.domain.errors import InvalidParameter
from roomline.domain.times import FIRST_YEAR, LAST_YEAR

_SIGNED_DIGITS = re.compile(r"[+-]?[0-9]{1,20}", re.ASCII)


def whole_number(name: str, text: str, low: int, high: int) -> int:
    """Read ``text`` (the value of ``name``) as a whole number from ``low`` to ``high``."""
    text = text.strip()
    if not _SIGNED_DIGITS.fullmatch(text):
        raise InvalidParameter(f"{name} must be a whole number, not {text[:20]!r}.")
    value = int(text)
    if not low <= value <= high:
        raise InvalidParameter(f"{name} must be between {low} and {high}, not {text[:20]}.")
    return value


def calendar_day(name: str, text: str | None) -> date | None:
    """Read a ``yyyy-MM-dd`` date; empty or absent means None (the page's default)."""
    if text is None or not text.strip():
        return None
    try:
        day = date.fromisoformat(text.strip())
    except ValueError as exc:
        raise InvalidParameter(f"{name} {text[:40]!r} is not a date; use yyyy-MM-dd.") from exc
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise InvalidParameter(
            f"{name} {text[:40]!r} is out of range; years {FIRST_YEAR} to {LAST_YEAR} are shown."
        )
    return day
