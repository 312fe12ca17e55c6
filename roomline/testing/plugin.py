"""The ``ultimo_standin`` pytest fixture, registered through the ``pytest11`` entry point.

Installing roomline registers this plugin for every pytest run, so it only declares: an
ini option and two fixtures. Nothing starts unless a test asks for ``ultimo_standin``;
then one ``roomline demo`` starts for the session (per xdist worker), on a free port
and a temporary database, with the fixture file of the ``ultimo_standin_fixture`` ini
option if set, and every test gets it freshly reset.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from roomline.testing.standin import StandInServer, UltimoStandIn

FIXTURE_OPTION = "ultimo_standin_fixture"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        FIXTURE_OPTION,
        "roomline demo --fixture file (JSON or TOML) for the ultimo_standin fixture, "
        "relative to the ini file; empty: Ultimo's playground data",
        default="",
    )


def _fixture_path(config: pytest.Config) -> Path | None:
    value = str(config.getini(FIXTURE_OPTION) or "").strip()
    if not value:
        return None
    base = config.inipath.parent if config.inipath is not None else config.rootpath
    return (base / value).resolve()


@pytest.fixture(scope="session")
def ultimo_standin_server(pytestconfig: pytest.Config) -> Iterator[StandInServer]:
    """One ``roomline demo`` process for the whole session."""
    from roomline.testing.standin import StandInServer

    server = StandInServer.start(_fixture_path(pytestconfig))
    yield server
    server.stop()


@pytest.fixture
def ultimo_standin(ultimo_standin_server: StandInServer) -> Iterator[UltimoStandIn]:
    """The stand-in Ultimo, reset to how it started: ``base_url``, ``api_key``,
    ``application_element_ids``, ``client``, ``clock``, ``faults``, ``requests()``."""
    from roomline.testing.standin import UltimoStandIn

    standin = UltimoStandIn.of(ultimo_standin_server)
    standin.reset()
    yield standin
    standin.close()
