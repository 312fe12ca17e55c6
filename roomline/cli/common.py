"""What the management commands share: the database, error reporting and output.

Each command opens the configured database (migrating it first, as ``serve`` does, so a
team can load spaces before the first start), runs one service call, and prints either
an aligned table for people or, with ``--json``, JSON for scripts. A rejection prints
``error: <message>`` on standard error and exits with status 1.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import typer

from roomline.config import SettingsError, settings_from
from roomline.domain.errors import RoomlineError
from roomline.services.transfer import FileFormat, Progress, format_named
from roomline.storage.database import Database, DatabaseUnavailable
from roomline.storage.diagnosis import DatabaseSetupError
from roomline.storage.migrate import upgrade

Json = typer.Option("--json", help="Print JSON instead of a table.")
PROGRESS_THRESHOLD = 500


@contextmanager
def database_for(database_url: str | None) -> Iterator[Database]:
    """Yield the configured database, migrated; report errors and exit 1 on failure."""
    with reporting_errors():
        settings = settings_from(database_url=database_url)
        database = Database(settings.database_url)
        try:
            upgrade(database)
            yield database
        finally:
            database.dispose()


@contextmanager
def reporting_errors() -> Iterator[None]:
    """Turn a rejection or a set-up mistake into ``error: ...`` on stderr and exit status 1."""
    try:
        yield
    except RoomlineError as exc:
        fail(exc.message, exc.details)
    except (SettingsError, DatabaseSetupError) as exc:
        fail(str(exc))
    except DatabaseUnavailable as exc:
        reason = getattr(exc, "orig", exc)
        fail(f"the database did not answer: {str(reason).strip().splitlines()[0]}")


def fail(message: str, details: Sequence[dict[str, Any]] | None = None) -> NoReturn:
    """Print ``error: message`` and, indented below it, each part that failed (e.g. the
    occurrences of a series); exit with status 1."""
    typer.echo(f"error: {message}", err=True)
    for detail in details or ():
        if "start" in detail and "message" in detail:
            line = f"{detail.get('start')} to {detail.get('end')}: {_cell(detail.get('message'))}"
        else:  # facts that explain a refusal, e.g. when check-in opens
            line = ", ".join(f"{name}: {_cell(value)}" for name, value in detail.items())
        typer.echo(f"  {line}", err=True)
    raise typer.Exit(1)


def print_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, ensure_ascii=False))


def print_table(rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str]]) -> None:
    """Print ``rows`` as aligned columns (key, heading); None shows as '-'."""
    cells = [[heading for _, heading in columns]]
    cells += [[_cell(row[key]) for key, _ in columns] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    for line in cells:
        typer.echo(
            "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        )


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ",".join(str(item) for item in value)
    return " ".join(str(value).split())  # one line per row, whatever the text holds


def read_input(path: str, format_name: str | None) -> tuple[str, FileFormat]:
    """Read an import file (``-`` is standard input) and decide its format."""
    fmt = format_named(format_name, None if path == "-" else path)
    if path == "-":
        return sys.stdin.read(), fmt
    try:
        return Path(path).read_text(encoding="utf-8-sig"), fmt
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read {path}: {exc}")


def write_output(text: str, path: str | None) -> None:
    """Write an export to ``path``, or to standard output when no path is given."""
    if path is None or path == "-":
        sys.stdout.write(text)
        return
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {path}: {exc}")


@contextmanager
def progress_bar(label: str, rows: int, show: bool | None) -> Iterator[Progress | None]:
    """Yield a callback driving a rich progress bar on stderr, if one should be shown.

    ``show`` None means: when stderr is a terminal and the import is long.
    """
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    console = Console(stderr=True)
    if show is None:
        show = console.is_terminal and rows >= PROGRESS_THRESHOLD
    if not show:
        yield None
        return
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=console
    ) as bar:
        task = bar.add_task(label, total=rows)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield advance
