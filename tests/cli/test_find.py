"""``roomline find``: free spaces and suggested slots on the configured database."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from roomline.domain.times import format_iso, zone_named
from tests.cli.conftest import Cli


def z(instant: datetime) -> str:
    return instant.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_find_free_spaces_and_slots(cli: Cli, book: Callable[..., int]) -> None:
    cli("spaces", "add", "R-1", "--capacity", "8", "--building", "HQ", "--features", "projector")
    cli("spaces", "add", "R-2", "--capacity", "4", "--building", "HQ", "--floor", "2")
    cli("spaces", "add", "R-3", "--capacity", "2", "--building", "HQ", "--not-bookable")
    cli("spaces", "add", "R-4", "--capacity", "2", "--building", "Annex")
    cli("people", "add", "P-1")
    book("R-1", "P-1", 0)
    base = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)

    def window(first: int, last: int) -> list[str]:
        return [
            "--start",
            z(base + timedelta(hours=first)),
            "--end",
            z(base + timedelta(hours=last)),
        ]

    assert [row["space_id"] for row in cli.json("find", *window(0, 1), "--building", "hq")] == [
        "R-2"
    ]
    assert cli.json("find", *window(1, 2), "--building", "HQ") == [
        {
            "space_id": "R-2",
            "description": "",
            "building": "HQ",
            "floor": "2",
            "capacity": 4,
            "features": [],
            "time_zone": "UTC",
        },
        {
            "space_id": "R-1",
            "description": "",
            "building": "HQ",
            "floor": None,
            "capacity": 8,
            "features": ["projector"],
            "time_zone": "UTC",
        },
    ]
    table = cli("find", *window(1, 2), "--features", "projector").stdout.splitlines()
    assert table[0].split() == [
        "SPACE",
        "DESCRIPTION",
        "BUILDING",
        "FLOOR",
        "CAPACITY",
        "FEATURES",
        "TIME",
        "ZONE",
    ]
    assert table[1].split() == ["R-1", "HQ", "-", "8", "projector", "UTC"]
    assert cli("find", *window(1, 2), "--capacity", "9").stdout == "no free space matches\n"

    utc = zone_named("UTC")
    slots = cli.json(
        "find",
        "--duration",
        "60",
        "--earliest",
        z(base),
        "--latest",
        z(base + timedelta(hours=2)),
        "--building",
        "HQ",
        "--step",
        "30",
    )
    assert slots == [
        {
            "space_id": "R-2",
            "start": format_iso(base + timedelta(minutes=m), utc),
            "end": format_iso(base + timedelta(minutes=m + 60), utc),
        }
        for m in (0, 30)
    ] + [
        {
            "space_id": space,
            "start": format_iso(base + timedelta(minutes=60), utc),
            "end": format_iso(base + timedelta(minutes=120), utc),
        }
        for space in ("R-2", "R-1")
    ]


def test_find_refusals(cli: Cli) -> None:
    refused = cli("find", "--duration", "60", "--earliest", "2030-01-08T09:00:00", ok=False)
    assert (
        refused.stderr
        == "error: --duration needs --earliest and --latest (and no --start or --end).\n"
    )
    refused = cli("find", "--start", "2030-01-08T09:00:00", ok=False)
    assert (
        refused.stderr
        == "error: Give --start and --end, or --duration with --earliest and --latest.\n"
    )
    refused = cli(
        "find", "--start", "2030-01-08T10:00:00", "--end", "2030-01-08T09:00:00", ok=False
    )
    assert refused.stderr == "error: end must be after start.\n"
