"""Prometheus metrics (SPEC §6): what every layer counts, in one place.

Each worker process counts its own; ``/metrics`` (``api/metrics.py``) answers the sum
over all workers of a server. With several workers, ``roomline serve`` gives them a
directory of their own in ``PROMETHEUS_MULTIPROC_DIR`` (``cli/server.py``), where
prometheus-client keeps each process's values in memory-mapped files; a single worker
counts in memory.

The hot path pays little: a request costs one histogram update, made through a child
looked up once per label set (``labels()`` itself parses its
arguments each time). Everything else is counted where it happens and only then: a
refusal, a wait for a pooled connection, a commit of a write group.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

# Label values are bounded: a workflow name or "none" (never a path), a status, a code
# of the error catalogue.
NO_WORKFLOW = "none"

# Requests by workflow and status are this histogram's ``_count``: one update per request
# instead of a counter's and a histogram's.
REQUESTS = Histogram(
    "roomline_request_duration_seconds",
    "Requests answered and the time from arrival to answer, by Ultimo workflow (none for "
    "other paths) and HTTP status.",
    ["workflow", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
WORKFLOW_ERRORS = Counter(
    "roomline_workflow_errors",
    "Ultimo workflow requests refused, by workflow and error code (1015: space not "
    "available; TooManyRequests: over a rate limit or quota).",
    ["workflow", "code"],
)
POOL_IN_USE = Gauge(
    "roomline_db_pool_connections_in_use",
    "Database connections checked out of the workers' pools.",
    multiprocess_mode="livesum",
)
POOL_WAITS = Histogram(
    "roomline_db_pool_wait_seconds",
    "Time a request waited for a pooled database connection when all were in use.",
    buckets=(0.001, 0.005, 0.025, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0),
)
POOL_TIMEOUTS = Counter(
    "roomline_db_pool_timeouts",
    "Requests answered 503 because no pooled database connection became free in time.",
)
WRITE_GROUP_SIZE = Histogram(
    "roomline_write_group_size",
    "SQLite writers that shared one transaction and commit (group commit).",
    buckets=(1, 2, 4, 8, 16, 32),
)
# For the background work of SPEC §9 (services/background.py): one counter for every job,
# by its name and how a run ended (done: it did some work, idle: nothing to do, failed).
BACKGROUND_RUNS = Counter(
    "roomline_background_runs",
    "Background work done, by job and outcome.",
    ["job", "outcome"],
)

_requests: dict[tuple[str | None, int], Histogram] = {}


def observe_request(workflow: str | None, status: int, seconds: float) -> None:
    """Count one answered request and its latency."""
    observed = _requests.get((workflow, status))
    if observed is None:
        labels = (workflow or NO_WORKFLOW, str(status))
        observed = _requests[workflow, status] = REQUESTS.labels(*labels)
    observed.observe(seconds)
