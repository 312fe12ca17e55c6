"""``GET /metrics`` on a real server: who may read it, and what it counts across workers.

The counts are checked against the access log, which names the worker (pid) of every
request: the metrics of one server are the sum over its workers, whichever worker
answers the scrape.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import TEST_NOW
from tests.security.helpers import (
    access_lines,
    make_key,
    pids_after_both_workers_answered,
    spread_gets,
)
from tests.support import ADMIN_TOKEN, DEMO_KEY, Server, fresh_database_url, start_server

METRICS_TOKEN = "test-metrics-token"
GET = "REST_GetReservationsForSpace"
CREATE = "REST_CreateReservation"
SLOT = {
    "SpaceId": "C-25",
    "StartTime": "2030-02-04 10:00:00",
    "EndTime": "2030-02-04 11:00:00",
    "ApplicantId": "ULTIMO",
}


def start(database_url: str, tmp_path: Path, workers: int) -> Server:
    return start_server(
        database_url,
        tmp_path,
        "--now",
        TEST_NOW,
        "--workers",
        str(workers),
        env={"ROOMLINE_METRICS_TOKEN": METRICS_TOKEN},
    )


def scrape(server: Server, token: str = METRICS_TOKEN) -> dict[tuple[str, tuple[str, ...]], float]:
    """Read /metrics into {(sample name, label values): value}."""
    response = server.client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def multiprocess_directory(pid: int) -> Path | None:
    """The metrics directory a worker process was started with, if any."""
    for entry in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
        if entry.startswith(b"PROMETHEUS_MULTIPROC_DIR="):
            return Path(entry.split(b"=", 1)[1].decode())
    return None


def test_only_the_metrics_or_admin_token_reads_metrics(database_url: str, tmp_path: Path) -> None:
    server = start(database_url, tmp_path, 1)
    try:
        for headers in (
            {},
            {"Authorization": "Bearer wrong"},
            {"Authorization": f"Bearer {DEMO_KEY}"},
            {"ApiKey": DEMO_KEY},
        ):
            refused = server.client.get("/metrics", headers=headers)
            assert (refused.status_code, refused.json()["code"]) == (401, "AdminTokenRequired")
        scrape(server, METRICS_TOKEN)
        scrape(server, ADMIN_TOKEN)
        # The metrics token opens nothing else.
        management = server.client.get(
            "/api/manage/spaces", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
        )
        assert management.status_code == 401
    finally:
        server.stop()


@pytest.mark.parametrize("workers", [1, 2])
def test_metrics_count_every_worker(database_url: str, tmp_path: Path, workers: int) -> None:
    server = start(database_url, tmp_path, workers)
    try:
        # Gets until both workers have answered some, a conflict (1015), and a key over
        # its daily quota (429).
        def gets() -> None:
            assert {a.status_code for a in spread_gets(server, DEMO_KEY, 20)} == {200}

        gets()
        answered_by = pids_after_both_workers_answered(
            server, lambda line: line["workflow"] == GET, gets
        )
        assert len(answered_by) == workers
        directories = {multiprocess_directory(pid) for pid in answered_by}
        assert server.call(CREATE, SLOT).status_code == 200
        assert server.call(CREATE, SLOT).json()["code"] == "1015"
        _, limited = make_key(server.database_url, daily_quota=2)
        assert [a.status_code for a in spread_gets(server, limited, 5, parallel=1)] == [
            200,
            200,
            429,
            429,
            429,
        ]
        by_status = Counter(
            line["status"] for line in access_lines(server) if line["workflow"] == GET
        )
        samples = scrape(server)
    finally:
        server.stop()
    requests = "roomline_request_duration_seconds_count"
    assert value(samples, requests, workflow=GET, status="200") == by_status[200]
    assert value(samples, requests, workflow=GET, status="429") == by_status[429] == 3
    assert value(samples, requests, workflow=CREATE, status="200") == 1
    assert value(samples, requests, workflow=CREATE, status="400") == 1
    assert value(samples, requests, workflow="none", status="200") >= 1  # /healthz
    assert value(samples, "roomline_workflow_errors_total", workflow=CREATE, code="1015") == 1
    assert (
        value(samples, "roomline_workflow_errors_total", workflow=GET, code="TooManyRequests") == 3
    )
    assert value(samples, "roomline_db_pool_timeouts_total") == 0
    assert value(samples, "roomline_db_pool_connections_in_use") >= 0
    if server.database_url.startswith("sqlite"):  # group commit is SQLite's
        assert value(samples, "roomline_write_group_size_count") >= 1
    # Several workers count in a directory of the server's own, removed when it stops.
    [directory] = directories
    if workers == 1:
        assert directory is None
    else:
        assert directory is not None and directory.name.startswith("roomline-metrics-")
        assert not directory.exists()


def test_waits_for_a_pooled_connection_are_counted(tmp_path: Path) -> None:
    # PostgreSQL only: SQLite's Gets read on connections of their own, outside the pool.
    with fresh_database_url("postgresql", tmp_path) as database_url:
        _count_pool_waits(database_url, tmp_path)


def _count_pool_waits(database_url: str, tmp_path: Path) -> None:
    server = start_server(
        database_url,
        tmp_path,
        "--now",
        TEST_NOW,
        env={"ROOMLINE_METRICS_TOKEN": METRICS_TOKEN, "ROOMLINE_DATABASE_POOL_SIZE": "1"},
    )
    try:
        answers = spread_gets(server, DEMO_KEY, 40, parallel=16)
        assert {answer.status_code for answer in answers} == {200}
        samples = scrape(server)
    finally:
        server.stop()
    assert value(samples, "roomline_db_pool_wait_seconds_count") > 0
    assert value(samples, "roomline_db_pool_timeouts_total") == 0
    assert value(samples, "roomline_db_pool_connections_in_use") == 0
