"""Why the configured database cannot be used, said in one line a person can act on.

``check_url`` refuses, before anything connects, a URL roomline cannot use: one without a
scheme, a database other than SQLite or PostgreSQL, PostgreSQL without its driver (the
``postgres`` extra), a SQLite file in a directory that does not exist.
``connection_failure`` turns a failed first connection into what went wrong and what to
do: nothing listening on PostgreSQL's port, no such database, no such role. Both give a
``DatabaseSetupError``, whose message the ``roomline`` command prints as ``error: …``.
Passwords in the URL are never repeated.
"""

from __future__ import annotations

import importlib
import re
import shlex
from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

EXAMPLES = "sqlite:///roomline.db (a file) or postgresql://user@host/database"
POSTGRES_EXTRA = "pip install 'roomline[postgres]'"


class DatabaseSetupError(Exception):
    """The configured database cannot be used; the message says why and what to do."""


def check_url(url: str) -> URL:
    """Return ``url`` parsed, if roomline can use it; raise ``DatabaseSetupError`` if not."""
    if "://" not in url:
        raise DatabaseSetupError(
            f"the database URL {url!r} has no scheme; write it as {_suggestion(url)}"
        )
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise DatabaseSetupError(
            f"the database URL {_shown(url)} cannot be read ({exc}); use {EXAMPLES}"
        ) from exc
    backend, _, driver = parsed.drivername.partition("+")
    if backend in ("postgresql", "postgres") and driver in ("", "psycopg"):
        _require_psycopg()
    elif backend == "sqlite" and driver in ("", "pysqlite"):
        _check_sqlite_file(parsed)
    else:
        raise DatabaseSetupError(
            f"roomline stores its data in SQLite or PostgreSQL (with psycopg), not "
            f"{parsed.drivername!r}; use {EXAMPLES}"
        )
    return parsed


def _suggestion(url: str) -> str:
    if url.endswith((".db", ".sqlite", ".sqlite3")):
        return f"sqlite:///{url} for a SQLite file"
    return EXAMPLES


def _shown(url: str) -> str:
    """The URL as it may be printed: its password, if it has one, masked."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "given"


def _require_psycopg() -> None:
    try:
        importlib.import_module("psycopg")
        importlib.import_module("asyncpg")  # the hot paths' driver (storage/pg_hot.py)
    except ImportError as exc:
        raise DatabaseSetupError(
            f"PostgreSQL needs the postgres extra, which is not installed: {POSTGRES_EXTRA} ({exc})"
        ) from exc


def _check_sqlite_file(url: URL) -> None:
    if url.host:
        raise DatabaseSetupError(
            f"a SQLite URL names a file, not a host: write sqlite:///{url.host}"
            f"{'/' + url.database if url.database else ''} (three slashes before a relative "
            "path, four before an absolute one)"
        )
    path = url.database
    if not path or path == ":memory:" or path.startswith("file:"):
        return
    folder = Path(path).parent
    if not folder.is_dir():
        what = "is not a directory" if folder.exists() else "does not exist"
        raise DatabaseSetupError(
            f"the directory {str(folder)!r} of the SQLite database {path!r} {what}; "
            f"create it (mkdir -p {shlex.quote(str(folder))}) or choose another path"
        )


_DATABASE_MISSING = re.compile(r'database "(?P<name>[^"]+)" does not exist')
_ROLE_MISSING = re.compile(r'role "(?P<name>[^"]+)" does not exist')
_PASSWORD_REFUSED = re.compile(r'password authentication failed for user "(?P<name>[^"]+)"')
# What libpq puts before the server's own words.
_PREFIXES = re.compile(
    r'^(connection failed: )?(connection to server at "[^"]*", port \d+ failed: )?'
)


def connection_failure(url: str, exc: Exception) -> DatabaseSetupError:
    """Explain why the first connection to ``url`` failed with ``exc``."""
    reason = str(getattr(exc, "orig", None) or exc).strip()
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        first_line = reason.splitlines()[0] if reason else type(exc).__name__
        return DatabaseSetupError(
            f"cannot open the SQLite database {parsed.database!r}: {first_line}"
        )
    host = parsed.host or "localhost"
    port = parsed.port or 5432
    where = f"PostgreSQL at {host}:{port}"
    server = f"-h {shlex.quote(host)} -p {port}"
    if "Connection refused" in reason:
        return DatabaseSetupError(
            f"nothing accepts connections at {host}:{port}; is PostgreSQL running, and on "
            "that port?"
        )
    if found := _DATABASE_MISSING.search(reason):
        name = found["name"]
        owner = (
            f" -O {shlex.quote(parsed.username)}"
            if parsed.username not in (None, "postgres")
            else ""
        )
        return DatabaseSetupError(
            f'{where} has no database "{name}"; create it with: '
            f"createdb {server} -U postgres{owner} {shlex.quote(name)}"
        )
    if found := _ROLE_MISSING.search(reason):
        name = found["name"]
        return DatabaseSetupError(
            f'{where} has no role "{name}"; create it with: '
            f"createuser {server} -U postgres {shlex.quote(name)} "
            "(add --pwprompt to give it a password)"
        )
    if found := _PASSWORD_REFUSED.search(reason):
        return DatabaseSetupError(
            f'{where} refused the password of role "{found["name"]}"; check the password '
            "in the database URL"
        )
    first_line = _PREFIXES.sub("", reason.splitlines()[0] if reason else type(exc).__name__)
    return DatabaseSetupError(f"cannot connect to {where}: {first_line.replace('FATAL:  ', '')}")
