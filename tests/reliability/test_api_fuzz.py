"""Bad input, HTTP: every operation in the app's own OpenAPI document, fuzzed by schemathesis
against a real server process. No 5xx, and a refused write stores nothing."""

from __future__ import annotations

import sqlite3

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from ..conftest import launch_server

EXAMPLES = 40


@pytest.fixture(scope="module")
def fuzzed_server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz")
    # Pushed data only: a collector's samples would blur "nothing stored" for refused writes.
    server = launch_server(folder, command="serve")
    with server.client() as client:  # something to read, so reads do real work
        client.post("/api/points", json={"source": "seed", "points": [
            {"category": "c", "label": "l", "value": 1.5, "time": 1_700_000_000 + i} for i in range(50)]})
    yield server
    log = server.stop()
    assert "Traceback" not in log, log[-3000:]


@pytest.fixture(scope="module")
def api_schema(fuzzed_server):
    return schemathesis.openapi.from_url(fuzzed_server.url + "/api/openapi.json")


def stored(database) -> tuple[int, int, int]:
    """Head rows, series and sources: a refused write must not raise any of them.

    (Maintenance may lower the first meanwhile, moving rows into blocks; it never raises it.)
    """
    with sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True) as db:
        return db.execute("SELECT (SELECT count(*) FROM samples), (SELECT count(*) FROM series),"
                          " (SELECT count(*) FROM sources)").fetchone()


def fuzz(server, operation, mode: GenerationMode, examples: int, found) -> list[str]:
    """Hypothesis drives schemathesis's cases for one operation; returns what went wrong."""
    database = server.directory / "statsserver.db"
    headers = {"Authorization": f"Bearer {server.token}"}
    problems: list[str] = []

    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
    @given(case=operation.as_strategy(mode))
    def run(case):
        found.runs += 1
        before = stored(database)
        if case.path == "/api/live":
            # A valid request opens an endless stream: its status is all there is to check.
            with requests.request(**case.as_transport_kwargs(base_url=server.url, headers=headers),
                                  stream=True, timeout=10) as response:
                pass
        else:
            response = case.call(base_url=server.url, headers=headers, timeout=30)
        where = f"{case.method.upper()} {case.path} ({mode.value}) {case.query or ''} {str(case.body)[:80]}"
        if response.status_code >= 500:
            problems.append(f"{where}: {response.status_code} {response.text[:200]}")
        if response.status_code >= 400 and case.method.upper() != "GET":
            after = stored(database)
            if after[1:] != before[1:] or after[0] > before[0]:
                problems.append(f"{where}: refused with {response.status_code} but stored {before} -> {after}")

    try:
        run()
    except Unsatisfiable:
        assert mode is GenerationMode.NEGATIVE  # an operation without parameters has no wrong ones
    return problems


def test_every_operation_fuzzed(fuzzed_server, tally):
    found = tally("Bad input")
    schema = schemathesis.openapi.from_url(fuzzed_server.url + "/api/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 12  # every route of the document, not a few
    problems = []
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            problems += fuzz(fuzzed_server, operation, mode, EXAMPLES, found)
    found.failures += len(problems)
    found.notes.append(f"{len(operations)} operations, {EXAMPLES} positive and {EXAMPLES} negative cases each")
    assert not problems, "\n".join(problems[:20])
