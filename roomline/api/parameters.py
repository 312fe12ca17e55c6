"""Refuse query parameters an operation of roomline's own APIs does not take.

A misspelt filter (``/api/booking/changes?spaces=C-25``, ``?by=hour`` on a report) would
otherwise be ignored, and the answer would cover every space or the default grouping
without a word. Unknown body fields are refused the same way (``extra="forbid"``), as
Stripe refuses both. Used by ``/api/booking`` and ``/api/manage``, not by the Ultimo
workflows.

Checked after the caller is admitted, like the parameters' values, so a request without
a key or the admin token still answers 401 first.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from roomline.domain.errors import InvalidParameter


def refuse_unknown_query_parameters(request: Request) -> None:
    """Raise ``InvalidParameter`` naming the query parameters the route does not take."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or not request.query_params:
        return
    # Worked out again for each request with a query (about 1 µs): no cache to keep in step
    # with the app's routes.
    taken = _query_names(route.dependant)
    unknown = sorted(set(request.query_params.keys()) - taken)
    if not unknown:
        return
    names = ", ".join(f'"{name}"' for name in unknown)
    takes = f"it takes {', '.join(sorted(taken))}" if taken else "it takes no query parameters"
    raise InvalidParameter(
        f"Unknown query parameter{'s' if len(unknown) > 1 else ''} {names}; {takes}.",
        details=[{"parameter": name} for name in unknown],
    )


def _query_names(dependant: Dependant) -> set[str]:
    """The query parameter names of a route and of every dependency it has."""
    names = {field.alias for field in dependant.query_params}
    for dependency in dependant.dependencies:
        names |= _query_names(dependency)
    return names
