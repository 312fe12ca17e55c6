"""Summarise py-spy's raw (collapsed-stack) output into the functions that cost most.

Each line of the raw format is ``frame;frame;...;leaf count``; a frame reads
``function (path:line)``. Line numbers are dropped so a function counts once, and paths
are shortened to the package they belong to.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

_FRAME = re.compile(r"^(?P<function>.*?) \((?P<path>.*?)(?::\d+)?\)$")


def _short(frame: str) -> str:
    match = _FRAME.match(frame.strip())
    if match is None:
        return frame.strip()
    path = match["path"]
    for marker in ("site-packages/", "/lib/python3.11/", "/work/main/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{match['function']} ({path})"


def summarise(raw: Path, top: int = 15) -> dict[str, Any]:
    """Return total samples and the top functions by own and by inclusive samples."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    if not raw.exists():
        return {"samples": 0, "own": [], "inclusive": []}
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_short(frame) for frame in stack.split(";")]
        # py-spy may prefix a process/thread frame; it is not a function.
        frames = [f for f in frames if not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count

    def rows(counter: Counter[str], keep: Any) -> list[dict[str, Any]]:
        chosen = [(name, n) for name, n in counter.most_common() if keep(name)][:top]
        return [
            {"function": name, "samples": n, "percent": round(100 * n / total, 1)}
            for name, n in chosen
        ]

    return {
        "samples": total,
        "own": rows(own, lambda _name: True),
        # Inclusive time of roomline's own functions shows which use case step is dear.
        "inclusive": rows(inclusive, lambda name: "roomline/" in name),
    }


def render(summary: dict[str, Any]) -> str:
    lines = [f"samples: {summary['samples']}", "own time:"]
    lines += [f"  {row['percent']:5.1f}%  {row['function']}" for row in summary["own"]]
    lines.append("inclusive time (roomline functions):")
    lines += [f"  {row['percent']:5.1f}%  {row['function']}" for row in summary["inclusive"]]
    return "\n".join(lines)
