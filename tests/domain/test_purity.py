"""The domain imports only the standard library (CONVENTIONS: keep the rules pure)."""

from __future__ import annotations

import subprocess
import sys


def test_domain_imports_no_frameworks() -> None:
    script = (
        "import sys, roomline.domain.errors, roomline.domain.times, roomline.domain.reservations\n"
        "import roomline.domain as d, pkgutil, importlib\n"
        "for m in pkgutil.iter_modules(d.__path__): importlib.import_module('roomline.domain.' + m.name)\n"
        "bad = sorted(n for n in sys.modules if n.split('.')[0] in "
        "{'sqlalchemy', 'fastapi', 'pydantic', 'starlette', 'httpx', 'alembic', 'orjson'})\n"
        "print(','.join(bad))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""
