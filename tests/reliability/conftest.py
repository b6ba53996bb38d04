"""The reliability scenarios (issue #7) keep a tally: runs, failures and samples lost.

Each test takes `tally("Scenario")`, counts its runs and what went wrong, and asserts as usual.
A test that fails counts as at least one failure even if it never got to count. At the end of the
session the tallies are merged into artifacts/reliability.json (scenarios not run this time keep
their last result), from which `python -m tests.reliability.report` writes the table in
docs/reliability.md.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field

import pytest

from ..conftest import ROOT

RESULTS = ROOT / "artifacts" / "reliability.json"
_tallies: dict[str, "Tally"] = {}
_outcome = pytest.StashKey[bool]()


@dataclass
class Tally:
    scenario: str
    runs: int = 0
    failures: int = 0
    lost: int = 0  # samples committed before the trouble and missing after it
    tests: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.stash[_outcome] = report.failed
    elif report.failed:
        item.stash[_outcome] = True
    return report


@pytest.fixture
def tally(request):
    taken: list[tuple[Tally, int]] = []

    def take(scenario: str) -> Tally:
        found = _tallies.setdefault(scenario, Tally(scenario))
        found.tests.append(request.node.name)
        taken.append((found, found.failures))
        return found

    yield take
    failed = request.node.stash.get(_outcome, False)
    for found, failures_before in taken:
        if failed and found.failures == failures_before:
            found.failures += 1
            found.runs = max(found.runs, found.failures)


def pytest_sessionfinish(session):
    if not _tallies:
        return
    try:
        stored = json.loads(RESULTS.read_text())
    except (OSError, ValueError):
        stored = {}
    stored.setdefault("scenarios", {})
    for name, found in _tallies.items():
        stored["scenarios"][name] = {**asdict(found), "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(stored, indent=2, ensure_ascii=False) + "\n")
