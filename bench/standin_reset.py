"""``.venv/bin/python -m bench.standin_reset``: how long ``POST /api/demo/reset`` takes.

Starts ``roomline demo --fixture`` with a generated fixture (``--reservations`` spread
over 20 spaces), books as many again, then times resets, each followed by a few writes
so that every reset has work to undo. Prints the median and the slowest, per backend.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from bench.run import DEFAULT_PG_ADMIN_URL, _fresh_database, _unavailable
from roomline.testing.standin import StandInServer

KEY = "0123456789ABCDEF0123456789ABCDEF"
SPACES = 20


def fixture(reservations: int) -> dict[str, object]:
    spaces = [{"id": f"R-{n}", "time_zone": "Europe/Amsterdam"} for n in range(SPACES)]
    booked = [
        {
            "space_id": f"R-{n % SPACES}",
            "applicant_id": "P-1",
            "start": f"2030-02-{1 + (n // SPACES) // 8:02d} {8 + (n // SPACES) % 8:02d}:00:00",
            "end": f"2030-02-{1 + (n // SPACES) // 8:02d} {8 + (n // SPACES) % 8:02d}:30:00",
        }
        for n in range(reservations)
    ]
    return {
        "clock": "2030-01-07T09:00:00Z",
        "spaces": spaces,
        "people": [{"id": "P-1", "name": "Doe, J."}],
        "keys": [{"name": "bench", "secret": KEY}],
        "reservations": booked,
    }


def book_more(client: httpx.Client, count: int) -> None:
    for n in range(count):
        body = {
            "SpaceId": f"R-{n % SPACES}",
            "ApplicantId": "P-1",
            "StartTime": f"2030-03-{1 + (n // SPACES) // 8:02d} {8 + (n // SPACES) % 8:02d}:00:00",
            "EndTime": f"2030-03-{1 + (n // SPACES) // 8:02d} {8 + (n // SPACES) % 8:02d}:30:00",
        }
        response = client.post(
            "/api/V1/Action/REST_CreateReservation", json=body, headers={"ApiKey": KEY}
        )
        response.raise_for_status()


def measure(database_url: str, path: Path, reservations: int, rounds: int) -> list[float]:
    server = StandInServer.start(path, extra_args=("--database-url", database_url))
    admin = {"Authorization": f"Bearer {server.admin_token}"}
    timings = []
    try:
        with httpx.Client(base_url=server.base_url, timeout=60) as client:
            book_more(client, reservations)
            for _ in range(rounds):
                started = time.perf_counter()
                client.post("/api/demo/reset", headers=admin).raise_for_status()
                timings.append(time.perf_counter() - started)
                book_more(client, 5)
    finally:
        server.stop()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.standin_reset")
    parser.add_argument("--reservations", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--backends", default="sqlite,postgresql")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        path = Path(work) / "bench.json"
        path.write_text(json.dumps(fixture(options.reservations)))
        for backend in options.backends.split(","):
            if problem := _unavailable(backend, DEFAULT_PG_ADMIN_URL):
                print(f"{backend}: skipped, {problem}")
                continue
            with _fresh_database(backend, Path(work), DEFAULT_PG_ADMIN_URL) as url:
                timings = measure(url, path, options.reservations, options.rounds)
            print(
                f"{backend}: reset of {options.reservations} fixture reservations "
                f"(+{options.reservations} booked before the first): "
                f"median {statistics.median(timings) * 1000:.1f} ms, "
                f"slowest {max(timings) * 1000:.1f} ms over {len(timings)} resets"
            )


if __name__ == "__main__":
    main()
