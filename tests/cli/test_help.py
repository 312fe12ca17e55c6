"""Every ``--help`` of the ``roomline`` command reads well in an 80-column terminal."""

from __future__ import annotations

from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from roomline.cli import app

ROOT = typer.main.get_command(app)


def command_paths(command: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command and group under ``command`` (typer's own click: groups have commands)."""
    paths = [path]
    if hasattr(command, "commands"):
        for name, sub in command.commands.items():
            paths += command_paths(sub, (*path, name))
    return paths


@pytest.mark.parametrize("path", command_paths(ROOT), ids=lambda path: " ".join(path) or "roomline")
def test_help_fits_80_columns_and_names_only_what_users_have(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(app, [*path, "--help"], terminal_width=80)
    assert result.exit_code == 0, result.output
    text = result.output
    assert max(len(line) for line in text.splitlines()) <= 80, text
    assert "…" not in text, text  # nothing cut off mid-word
    assert "SPEC" not in text and "§" not in text, text  # users do not have the spec
    if "--database-url" in text:
        assert "[env:" in text and "ROOMLINE_DATABASE_URL" in text, text


def test_demo_takes_every_option_of_serve() -> None:
    def options(name: str) -> set[str]:
        command: Any = ROOT.commands[name]  # type: ignore[attr-defined]
        return {opt for param in command.params for opt in param.opts + param.secondary_opts}

    assert options("serve") <= options("demo")
    assert {"--access-log", "--no-access-log"} <= options("demo")
