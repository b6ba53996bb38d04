"""Writes the reliability table into docs/reliability.md from artifacts/reliability.json.

`make reliability` runs the scenarios and then this; after `make test`, run it alone:
`.venv/bin/python -m tests.reliability.report`.
"""

from __future__ import annotations

import json
import sys

from ..conftest import ROOT
from .conftest import RESULTS

DOC = ROOT / "docs" / "reliability.md"
BEGIN = "<!-- reliability table: written by `make reliability`; do not edit by hand -->"
END = "<!-- end of reliability table -->"
ORDER = ["Crash safety (SIGKILL)", "Disk full", "Clock jumps", "Concurrency", "Bad input", "Access (non-loopback client)",
         "Bad database", "Soak (1 h accelerated)", "Live-feed churn"]


def table(results: dict) -> str:
    scenarios = results.get("scenarios", {})
    names = [name for name in ORDER if name in scenarios] + sorted(set(scenarios) - set(ORDER))
    rows = ["| Scenario | Runs | Failures | Data lost (samples) | Last run (UTC) | Notes |",
            "|---|---:|---:|---:|---|---|"]
    for name in names:
        entry = scenarios[name]
        notes = "; ".join(entry.get("notes", [])).replace("|", "\\|")
        rows.append(f"| {name} | {entry['runs']} | {entry['failures']} | {entry['lost']} | {entry['at']} | {notes} |")
    missing = [name for name in ORDER if name not in scenarios]
    if missing:
        rows.append("")
        rows.append(f"Not run: {', '.join(missing)}.")
    return "\n".join(rows)


def main() -> int:
    try:
        results = json.loads(RESULTS.read_text())
    except (OSError, ValueError) as error:
        print(f"report: no results to report ({RESULTS}: {error}); run `make reliability` first", file=sys.stderr)
        return 1
    text = table(results)
    document = DOC.read_text()
    start, end = document.index(BEGIN) + len(BEGIN), document.index(END)
    DOC.write_text(document[:start] + "\n" + text + "\n" + document[end:])
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
