"""The example integrator module of docs/testing-integrations.md runs as it is, with the
fixture and ini file shown there, in a project of its own."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

DOCS = Path(__file__).parents[2] / "docs" / "testing-integrations.md"
EXAMPLE = re.compile(r"<!-- example: (?P<name>\S+) -->\n```\w*\n(?P<text>.*?)```", re.DOTALL)


def test_the_documented_example_passes(tmp_path: Path) -> None:
    files = {match["name"]: match["text"] for match in EXAMPLE.finditer(DOCS.read_text())}
    assert set(files) == {"standin.toml", "pytest.ini", "test_room_panel.py"}
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-W", "error", "-p", "no:cacheprovider"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.splitlines()[-1].startswith("6 passed"), run.stdout
