"""Start-up mistakes, made through the real ``roomline`` command: each prints exactly one
``error: …`` line on standard error, exits with status 1, and leaves nothing behind.

PostgreSQL's refusals come from the real server (a port nothing listens on, a database
and a role that do not exist). "The postgres extra is not installed" is a real failing
import: a ``sitecustomize`` on ``PYTHONPATH`` puts a finder on ``sys.meta_path`` that
refuses ``psycopg``, as an environment without it would.
"""

from __future__ import annotations

import socket
import subprocess
import uuid
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.support import PG_ADMIN_URL, free_port, require_postgres, roomline

NO_SCHEME = (
    "the database URL 'roomline.db' has no scheme; write it as sqlite:///roomline.db "
    "for a SQLite file"
)
EXAMPLES = "use sqlite:///roomline.db (a file) or postgresql://user@host/database"
# Every command that opens the configured database.
DATABASE_COMMANDS = [
    ["serve"],
    ["demo"],
    ["db", "upgrade"],
    ["spaces", "list"],
    ["people", "list"],
    ["keys", "list"],
    ["reservations", "list"],
    ["audit", "list"],
]
BLOCK_PSYCOPG = """
import sys


class RefusePsycopg:
    # As if psycopg were not installed: every import of it fails.
    def find_spec(self, name, path=None, target=None):
        if name == "psycopg" or name.startswith("psycopg."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, RefusePsycopg())
"""


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    """Return the single ``error: …`` line ``result`` printed, after checking it is alone."""
    assert "Traceback" not in result.stderr + result.stdout
    assert result.returncode == 1, (result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    assert result.stdout == ""
    return lines[0]


def listening_port(command: list[str]) -> list[str]:
    """``--port`` of a free port for the server commands, so only the mistake under test fails."""
    return ["--port", str(free_port())] if command[0] in ("serve", "demo") else []


def pg_url(*, user: str = "postgres", port: int | None = None, database: str = "postgres") -> str:
    admin = make_url(PG_ADMIN_URL)
    url = admin.set(username=user, port=port or admin.port or 5432, database=database)
    return url.render_as_string(hide_password=False)


def pg_where() -> str:
    admin = make_url(PG_ADMIN_URL)
    return f"{admin.host}:{admin.port or 5432}"


def test_a_url_without_a_scheme_through_the_option(tmp_path: Path) -> None:
    result = roomline(
        "serve", "--database-url", "roomline.db", *listening_port(["serve"]), cwd=tmp_path
    )
    assert one_error_line(result) == f"error: --database-url: {NO_SCHEME}"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", DATABASE_COMMANDS, ids=" ".join)
def test_every_command_names_the_variable_its_bad_url_came_from(
    command: list[str], tmp_path: Path
) -> None:
    result = roomline(
        *command,
        *listening_port(command),
        cwd=tmp_path,
        env={"ROOMLINE_DATABASE_URL": "roomline.db"},
    )
    assert one_error_line(result) == f"error: ROOMLINE_DATABASE_URL: {NO_SCHEME}"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", [["serve"], ["demo"], ["db", "upgrade"]], ids=" ".join)
def test_an_unsupported_database(command: list[str], tmp_path: Path) -> None:
    result = roomline(
        *command,
        *listening_port(command),
        "--database-url",
        "mysql://roomline@127.0.0.1/roomline",
        cwd=tmp_path,
    )
    assert one_error_line(result) == (
        "error: --database-url: roomline stores its data in SQLite or PostgreSQL (with "
        f"psycopg), not 'mysql'; {EXAMPLES}"
    )


@pytest.mark.parametrize("command", [["serve"], ["demo"], ["spaces", "list"]], ids=" ".join)
def test_a_sqlite_file_in_a_missing_directory(command: list[str], tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such"
    result = roomline(
        *command,
        *listening_port(command),
        cwd=tmp_path,
        env={"ROOMLINE_DATABASE_URL": f"sqlite:///{missing / 'roomline.db'}"},
    )
    assert one_error_line(result) == (
        f"error: ROOMLINE_DATABASE_URL: the directory '{missing}' of the SQLite database "
        f"'{missing / 'roomline.db'}' does not exist; create it (mkdir -p {missing}) or "
        "choose another path"
    )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", [["serve"], ["demo"], ["keys", "list"]], ids=" ".join)
def test_postgresql_without_the_postgres_extra(command: list[str], tmp_path: Path) -> None:
    blocker = tmp_path / "without-psycopg"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(BLOCK_PSYCOPG)
    work = tmp_path / "work"
    work.mkdir()
    result = roomline(
        *command,
        *listening_port(command),
        "--database-url",
        "postgresql://roomline@127.0.0.1/roomline",
        cwd=work,
        env={"PYTHONPATH": str(blocker)},
    )
    assert one_error_line(result) == (
        "error: --database-url: PostgreSQL needs the postgres extra, which is not "
        "installed: pip install 'roomline[postgres]' (No module named 'psycopg')"
    )


@pytest.mark.parametrize("command", [["serve"], ["demo"], ["db", "upgrade"]], ids=" ".join)
def test_postgresql_on_a_port_where_nothing_listens(command: list[str], tmp_path: Path) -> None:
    require_postgres()
    port = free_port()
    host = make_url(PG_ADMIN_URL).host
    result = roomline(
        *command, *listening_port(command), "--database-url", pg_url(port=port), cwd=tmp_path
    )
    assert one_error_line(result) == (
        f"error: nothing accepts connections at {host}:{port}; is PostgreSQL running, and "
        "on that port?"
    )


@pytest.mark.parametrize("command", [["serve"], ["demo"], ["audit", "list"]], ids=" ".join)
def test_postgresql_without_the_database(command: list[str], tmp_path: Path) -> None:
    require_postgres()
    name = f"roomline_missing_{uuid.uuid4().hex[:8]}"
    result = roomline(
        *command,
        *listening_port(command),
        cwd=tmp_path,
        env={"ROOMLINE_DATABASE_URL": pg_url(database=name)},
    )
    host, port = pg_where().split(":")
    assert one_error_line(result) == (
        f'error: PostgreSQL at {pg_where()} has no database "{name}"; create it with: '
        f"createdb -h {host} -p {port} -U postgres {name}"
    )


@pytest.mark.parametrize("command", [["serve"], ["demo"], ["people", "list"]], ids=" ".join)
def test_postgresql_without_the_role(command: list[str], tmp_path: Path) -> None:
    require_postgres()
    role = f"roomline_nobody_{uuid.uuid4().hex[:8]}"
    result = roomline(
        *command,
        *listening_port(command),
        "--database-url",
        pg_url(user=role),
        cwd=tmp_path,
    )
    host, port = pg_where().split(":")
    assert one_error_line(result) == (
        f'error: PostgreSQL at {pg_where()} has no role "{role}"; create it with: '
        f"createuser -h {host} -p {port} -U postgres {role} (add --pwprompt to give it a "
        "password)"
    )


@pytest.mark.parametrize("command", ["serve", "demo"])
def test_a_port_out_of_range(command: str, tmp_path: Path) -> None:
    result = roomline(command, "--port", "80000", cwd=tmp_path)
    assert one_error_line(result) == (
        "error: --port 80000: input should be less than or equal to 65535"
    )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", [["serve"], ["spaces", "list"]], ids=" ".join)
def test_a_port_out_of_range_in_the_environment(command: list[str], tmp_path: Path) -> None:
    result = roomline(*command, cwd=tmp_path, env={"ROOMLINE_PORT": "80000"})
    assert one_error_line(result) == (
        "error: ROOMLINE_PORT='80000': input should be less than or equal to 65535"
    )


@pytest.mark.parametrize("command", ["serve", "demo"])
def test_a_port_in_use(command: str, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = roomline(command, "--port", str(port), cwd=tmp_path)
    assert one_error_line(result) == (
        f"error: port {port} on 127.0.0.1 is already in use (another roomline?); stop what "
        "listens there or choose another port with --port"
    )
    assert list(tmp_path.iterdir()) == []


def test_an_unknown_time_zone(tmp_path: Path) -> None:
    result = roomline(
        "serve",
        *listening_port(["serve"]),
        cwd=tmp_path,
        env={"ROOMLINE_DEFAULT_TIME_ZONE": "Mars/Olympus"},
    )
    assert one_error_line(result) == (
        "error: ROOMLINE_DEFAULT_TIME_ZONE='Mars/Olympus': unknown IANA time zone 'Mars/Olympus'."
    )


def test_a_demo_clock_that_is_not_a_time(tmp_path: Path) -> None:
    result = roomline("demo", "--now", "tomorrow", *listening_port(["demo"]), cwd=tmp_path)
    assert one_error_line(result).startswith("error: --now 'tomorrow' is not a valid date")
