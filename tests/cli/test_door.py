"""``roomline spaces`` check-in rules and ``roomline reservations check-in|end|extend`` on
the database (the system clock), with the API's rules and messages."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from roomline.storage import masterdata
from tests.cli.conftest import Cli
from tests.conftest import World


def test_check_in_rules_are_set_listed_exported_and_imported(cli: Cli) -> None:
    cli(
        "spaces",
        "add",
        "R-1",
        "--check-in-required",
        "--check-in-opens-minutes",
        "20",
        "--auto-release-minutes",
        "5",
    )
    cli("spaces", "add", "R-2")
    listed = {space["id"]: space for space in cli.json("spaces", "list")}
    rules = ("check_in_required", "check_in_opens_minutes", "auto_release_minutes")
    assert [listed["R-1"][name] for name in rules] == [True, 20, 5]
    assert [listed["R-2"][name] for name in rules] == [False, 15, 10]
    cli("spaces", "update", "R-1", "--no-check-in-required", "--auto-release-minutes", "0")
    [space] = [s for s in cli.json("spaces", "list") if s["id"] == "R-1"]
    assert [space[name] for name in rules] == [False, 20, 0]
    exported = cli("spaces", "export", "--format", "csv").stdout.splitlines()
    assert exported[0].endswith(",check_in_required,check_in_opens_minutes,auto_release_minutes")
    imported = "id,check_in_required,auto_release_minutes\nR-3,yes,30\n"
    cli("spaces", "import", "-", "--format", "csv", input=imported)
    [space] = [s for s in cli.json("spaces", "list") if s["id"] == "R-3"]
    assert [space[name] for name in rules] == [True, 15, 30]
    refused = cli("spaces", "update", "R-3", "--auto-release-minutes", "1441", ok=False)
    assert refused.stderr == ("error: auto_release_minutes must be between 0 and 1440, not 1441.\n")


def test_check_in_extend_and_end_from_the_command_line(
    cli: Cli, database_url: str, make_world: Callable[[str], World]
) -> None:
    cli(
        "spaces",
        "add",
        "R-1",
        "--check-in-required",
        "--time-zone",
        "UTC",
        "--cleanup-minutes",
        "5",
    )
    cli("people", "add", "P-1")
    world = make_world(database_url)
    with world.database.read() as conn:
        space = masterdata.get_space(conn, "R-1")
    assert space is not None
    now = datetime.now(UTC).replace(microsecond=0)
    running = world.reservation(
        space, now - timedelta(minutes=2), now + timedelta(minutes=30), "P-1"
    )
    later = world.reservation(space, now + timedelta(hours=3), now + timedelta(hours=4), "P-1")
    number = f"{running:011d}"

    checked = cli.json("reservations", "check-in", number)
    assert checked["checked_in_by"] == "cli"
    said = cli("reservations", "check-in", number).stdout
    assert said == f"checked in {number} at {checked['checked_in_at']} (by cli)\n"

    extended = cli.json("reservations", "extend", number, "--minutes", "15")
    assert extended["end"] == (now + timedelta(minutes=45)).isoformat()
    ended = cli("reservations", "end", number).stdout
    assert ended.startswith(f"ended {number} at ")

    refused = cli("reservations", "check-in", f"{later:011d}", ok=False)
    opens = (now + timedelta(hours=3) - timedelta(minutes=15)).isoformat()
    assert refused.stderr == (
        f"error: Check-in for reservation {later:011d} opens at {opens}, 15 minutes before "
        f"its start.\n  opens_at: {opens}\n"
    )
    bad = cli("reservations", "extend", "x1", ok=False)
    assert "UltimoId 'x1' is not valid" in bad.stderr
    audit = json.loads(cli("audit", "list", "--ultimo-id", number, "--json").stdout)
    assert [entry["action"] for entry in audit] == ["check_in", "update", "end"]
