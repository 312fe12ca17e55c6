"""``.venv/bin/python -m bench``: measure roomline against the uvicorn ceiling.

The full run (default) seeds 10,000 and 1,000,000 reservations on SQLite and, when it
answers, PostgreSQL; ``--quick`` proves the harness works in seconds on small data and
is what CI runs. Exit status 1 means the harness or the server misbehaved (a workflow
answered nothing, or answered errors other than the expected 1015); slowness never
fails it.
"""

from __future__ import annotations

import argparse
import os
import sys

from bench import report
from bench.processes import Load
from bench.run import ALL_WORKFLOWS, DEFAULT_PG_ADMIN_URL, WORKFLOWS, Plan, measure, print_report


def _sizes(text: str) -> list[int]:
    return [int(part.replace("_", "")) for part in text.split(",") if part.strip()]


def _workers(text: str) -> list[int]:
    counts = [int(part) for part in text.split(",") if part.strip()]
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError("worker counts are whole numbers from 1 on")
    return counts


def parse(argv: list[str]) -> Plan:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="seconds, small data (CI)")
    parser.add_argument("--sizes", type=_sizes, help="reservation counts [10000,1000000]")
    parser.add_argument("--backends", default="sqlite,postgresql", help="[sqlite,postgresql]")
    parser.add_argument("--spaces", type=int, help="spaces to seed [1000]")
    parser.add_argument(
        "--workers",
        type=_workers,
        default=[1],
        help="server worker processes; several (1,2) measure each in turn [1]",
    )
    parser.add_argument("--threads", type=int, default=1, help="wrk threads [1]")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections [16]")
    parser.add_argument("--duration", type=int, help="seconds per workflow [10]")
    parser.add_argument("--warmup", type=int, help="seconds of Get before measuring [2]")
    parser.add_argument(
        "--workflows",
        default=",".join(WORKFLOWS),
        help="subset of Get,Create,Update,Cancel [all four]; or roomline's own "
        "/api/booking reads Reservation,Schedule",
    )
    parser.add_argument("--profile", action="store_true", help="sample the server with py-spy")
    parser.add_argument(
        "--no-access-log",
        action="store_true",
        help="start roomline serve with --no-access-log (default: its production default, on)",
    )
    parser.add_argument(
        "--floor",
        action="store_true",
        help="also serve each backend's floor (bench/floor.py, bench/floor_pg.py: "
        "roomline's SQL and nothing else) and drive its Get and Create",
    )
    parser.add_argument("--label", help="results file prefix [full | quick]")
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("ROOMLINE_BENCH_PG_URL", DEFAULT_PG_ADMIN_URL),
        help="PostgreSQL maintenance database to create bench databases from "
        "[env ROOMLINE_BENCH_PG_URL]",
    )
    args = parser.parse_args(argv)
    quick = args.quick
    workflows = [name.strip() for name in args.workflows.split(",") if name.strip()]
    unknown = set(workflows) - set(ALL_WORKFLOWS)
    if unknown:
        parser.error(f"unknown workflows: {', '.join(sorted(unknown))}")
    return Plan(
        sizes=args.sizes or ([400] if quick else [10_000, 1_000_000]),
        backends=[b.strip() for b in args.backends.split(",") if b.strip()],
        spaces=args.spaces or (20 if quick else 1000),
        workers=args.workers,
        # Quick runs get 3 s per workflow: on a loaded machine a stall of over a second
        # left a 1 s window without a single answer, which fails the run.
        load=Load(args.threads, args.connections, args.duration or (3 if quick else 10)),
        warmup_seconds=args.warmup if args.warmup is not None else (1 if quick else 2),
        pg_admin_url=args.pg_url,
        label=args.label or ("quick" if quick else "full"),
        profile=args.profile,
        floor=args.floor,
        workflows=workflows,
        serve_options=("--no-access-log",) if args.no_access_log else (),
    )


def main(argv: list[str] | None = None) -> int:
    plan = parse(sys.argv[1:] if argv is None else argv)
    result, healthy = measure(plan)
    print_report(result)
    path = report.write(result, plan.label)
    print(f"\nbench: results written to {path}")
    if not healthy:
        print("bench: FAILED: a workflow answered errors or nothing at all", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
