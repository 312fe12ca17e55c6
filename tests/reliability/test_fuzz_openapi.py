"""Schema-driven fuzzing of every operation in the running server's own OpenAPI document.

Two runs per database, both against a real demo server (clock pinned at TEST_NOW), with
the demo API key as ``ApiKey`` and the admin token as ``Authorization: Bearer``:

- ``test_schemathesis_engine``: schemathesis's own engine (its CLI) over the document,
  all phases (the documented examples, boundary coverage, random fuzzing, stateful
  sequences), every check but ``positive_data_acceptance`` (a schema-valid request may
  still name a space that does not exist).
- ``test_fuzz_reaching_the_rules``: schemathesis's generators through its Python API,
  positive and negative, where positive bodies are often given the names of things that
  exist (spaces, people, reservations) and the right ApplicationElementId, so the
  generated requests reach the booking rules and the database rather than stopping at
  the first unknown name.

What must hold for every response: no 5xx, the status is documented for the operation,
the body is JSON matching the documented schema, documented headers are right, and
schema-invalid requests are refused. Whatever operations the document lists at run time
are fuzzed (the management API included). The run is bounded: ``FUZZ_EXAMPLES`` cases
per operation and mode (``ROOMLINE_FUZZ_EXAMPLES`` overrides) from a fixed seed
(``ROOMLINE_FUZZ_SEED``), so CI repeats the same cases; raise both to search further.
Every finding is kept as a regression test in ``test_fuzz_findings.py``.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import tomllib
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from roomline.api.management import TAG as MANAGEMENT_TAG
from roomline.api.standin import TAG as STANDIN_TAG
from tests.conftest import TEST_NOW, World
from tests.support import ADMIN_TOKEN, DEMO_KEY, ELEMENT_IDS, Server, start_server

STREAM_PATH = "/api/booking/changes/stream"
FUZZ_EXAMPLES = int(os.environ.get("ROOMLINE_FUZZ_EXAMPLES", "60"))
FUZZ_SEED = int(os.environ.get("ROOMLINE_FUZZ_SEED", "20300107"))
AUTH = {"ApiKey": DEMO_KEY, "Authorization": f"Bearer {ADMIN_TOKEN}"}
ENGINE_CONFIG = Path(__file__).with_name("schemathesis.toml")
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
# Times around the pinned clock (2030-01-07 09:00 UTC), in every accepted form.
NEAR_TIMES = st.builds(
    lambda day, hour, minute, form: form.format(d=day, h=hour, m=minute),
    st.integers(6, 12),
    st.integers(0, 23),
    st.sampled_from([0, 15, 30, 45]),
    st.sampled_from(
        [
            "2030-01-{d:02d} {h:02d}:{m:02d}:00",
            "2030-01-{d:02d}T{h:02d}:{m:02d}:00Z",
            "2030-01-{d:02d}T{h:02d}:{m:02d}:00.5+01:00",
        ]
    ),
)


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[Server]:
    """A demo server of the test's own (fuzzing changes keys, spaces and the clock)."""
    running = start_server(database_url, tmp_path, "--now", TEST_NOW)
    yield running
    running.stop()


@pytest.fixture
def world(server: Server, make_world: Callable[[str], World]) -> World:
    return make_world(server.database_url)


@pytest.fixture
def references(server: Server, world: World) -> dict[str, list[str]]:
    """Make things for generated requests to name: spaces and future reservations."""
    spaces = ["C-25", "003.0.10"] + [
        world.space(prep=prep, cleanup=cleanup, tz=tz).id
        for prep, cleanup, tz in ((0, 0, "UTC"), (15, 10, "Europe/Amsterdam"))
    ]
    ultimo_ids = ["00000006710", "00000006711"]
    for day in (8, 9):
        for space_id in spaces:
            response = server.call(
                "REST_CreateReservation",
                {
                    "SpaceId": space_id,
                    "StartTime": f"2030-01-{day:02d}T10:00:00Z",
                    "EndTime": f"2030-01-{day:02d}T11:00:00Z",
                    "ApplicantId": "ULTIMO",
                },
            )
            assert response.status_code == 200, response.text
            ultimo_ids.append(response.json()["Properties"]["UltimoId"])
    return {"spaces": spaces, "ultimo_ids": ultimo_ids}


@pytest.mark.parametrize(
    "part",
    [
        ("--exclude-tag", MANAGEMENT_TAG, "--exclude-tag", STANDIN_TAG),
        ("--include-tag", MANAGEMENT_TAG),
        ("--include-tag", STANDIN_TAG),
    ],
    ids=["wire", "management", "stand-in"],
)
def test_schemathesis_engine(server: Server, part: tuple[str, ...], tmp_path: Path) -> None:
    # Three runs that split the document by tag: the stateful phase revokes the keys it
    # can list, and arms the stand-in's faults (dropped connections, 500s, long delays),
    # neither of which may cut the workflow run short.
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        *("--config-file", str(ENGINE_CONFIG)),
        "run",
        f"{server.base_url}/openapi.json",
        *part,
        *("-H", f"ApiKey: {DEMO_KEY}", "-H", f"Authorization: Bearer {ADMIN_TOKEN}"),
        *("--max-examples", str(FUZZ_EXAMPLES), "--seed", str(FUZZ_SEED)),
        *("--continue-on-failure", "--no-color", "--request-timeout", "30"),
        # A change stream never ends by design: tests/api/test_changes.py drives it.
        *("--exclude-path", STREAM_PATH),
    ]
    run = subprocess.run(
        command, cwd=tmp_path, capture_output=True, text=True, timeout=900, check=False
    )
    output = run.stdout + run.stderr
    generated = re.search(r"(\d+) generated", output)
    selected = re.search(r"Selected: (\d+)/(\d+)", output)
    print(
        f"schemathesis engine, {' '.join(part)}: "
        f"{selected.group(1) if selected else '?'} operations, "
        f"{generated.group(1) if generated else '?'} cases"
    )
    assert run.returncode == 0, output[-20_000:]
    assert generated is not None and int(generated.group(1)) > 0, output[-5_000:]


def test_fuzz_reaching_the_rules(
    server: Server, references: dict[str, list[str]], record_property: Any
) -> None:
    # The engine run's configuration, plus the credentials as configured headers (so that
    # negative cases do not count a request without them as schema-invalid but accepted).
    config = tomllib.loads(ENGINE_CONFIG.read_text())
    config["headers"] = AUTH
    schema = schemathesis.openapi.from_url(
        f"{server.base_url}/openapi.json", config=schemathesis.Config.from_dict(config)
    )
    # The management API late: it may revoke keys and unbook spaces the workflows use;
    # the stand-in's controls last: the faults they arm fail the workflows on purpose.
    operations = sorted(
        (
            operation
            for operation in (result.ok() for result in schema.get_all_operations())
            if operation.path != STREAM_PATH  # never ends by design (tests/api/test_changes.py)
        ),
        key=lambda operation: [
            tag in (operation.definition.raw.get("tags") or [])
            for tag in (STANDIN_TAG, MANAGEMENT_TAG)
        ],
    )
    assert len(operations) >= 7, [operation.label for operation in operations]
    findings: dict[tuple[str, str], str] = {}
    outcomes: Counter[str] = Counter()
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            for case, response in _fuzz(operation, mode, references, server.base_url):
                outcomes[f"{operation.label} {mode.value} {response}"] += 1
                if isinstance(response, FailureGroup):
                    for failure in response.exceptions:
                        key = (operation.label, failure.title)
                        findings.setdefault(key, f"{failure.message}\n{case.as_curl_command()}")
    total = sum(outcomes.values())
    record_property("fuzz_cases", total)
    print(f"fuzzing through the Python API: {total} cases; outcomes:")
    for outcome, count in sorted(outcomes.items()):
        print(f"  {count:5d}  {outcome}")
    assert total >= len(operations) * FUZZ_EXAMPLES // 2
    assert not findings, "\n\n".join(
        f"{label}: {title}\n{detail}" for (label, title), detail in findings.items()
    )


def _fuzz(
    operation: Any, mode: GenerationMode, references: dict[str, list[str]], base_url: str
) -> Iterator[tuple[Any, Any]]:
    """Run one operation's generated cases; yield each case with its status or failures."""
    results: list[tuple[Any, Any]] = []
    configured = operation.schema.config.checks_config_for(operation=operation, phase="fuzzing")
    checks = [check for check in CHECKS if getattr(configured, check.__name__).enabled]
    strategy = operation.as_strategy(generation_mode=mode)
    if mode is GenerationMode.POSITIVE:
        strategy = st.tuples(strategy, _real_names(references)).map(_named)

    @settings(
        max_examples=FUZZ_EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @seed(FUZZ_SEED)
    @given(case=strategy)
    def run(case: Any) -> None:
        try:
            response = case.call_and_validate(base_url=base_url, headers=AUTH, checks=checks)
        except FailureGroup as failures:
            results.append((case, failures))
            return
        code = response.json().get("code", "") if response.status_code >= 400 else ""
        results.append((case, f"{response.status_code} {code}".strip()))

    with contextlib.suppress(Unsatisfiable):  # e.g. GET /healthz has no invalid request
        run()
    yield from results


def _real_names(references: dict[str, list[str]]) -> st.SearchStrategy[dict[str, Any]]:
    """Values to put into a positive body, mostly; None leaves the generated value."""

    def mostly(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        return st.integers(0, 4).flatmap(lambda n: st.none() if n == 0 else strategy)

    return st.fixed_dictionaries(
        {
            "SpaceId": mostly(st.sampled_from(references["spaces"])),
            "ApplicantId": mostly(st.just("ULTIMO")),
            "UltimoId": mostly(st.sampled_from(references["ultimo_ids"])),
            "times": mostly(st.tuples(NEAR_TIMES, NEAR_TIMES)),
            "element_id": mostly(st.just(True)),
        }
    )


def _named(drawn: tuple[Any, dict[str, Any]]) -> Any:
    """Give a generated positive case real names; it stays valid for the schema."""
    case, names = drawn
    body = case.body
    if isinstance(body, dict):
        for field in ("SpaceId", "ApplicantId", "UltimoId"):
            if names[field] is not None and field in body:
                body[field] = names[field]
        if names["ApplicantId"] is not None and "Applicant" in body:
            body["Applicant"] = names["ApplicantId"]
        if names["times"] is not None:
            for field, value in zip(("StartTime", "EndTime"), names["times"], strict=True):
                if field in body:
                    body[field] = value
            for field, value in zip(("From", "Till"), names["times"], strict=True):
                if field in body:
                    body[field] = value
    workflow = case.path.rsplit("/", 1)[-1]
    if names["element_id"] and workflow in ELEMENT_IDS:
        if case.headers is None:
            case.headers = {}
        case.headers["ApplicationElementId"] = ELEMENT_IDS[workflow]
    return case
