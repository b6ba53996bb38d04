"""Clock jumps: the wall clock steps back an hour, forward a day, and back to the right time.

The generator's wall clock is injected (Generator(clock=...)); the machine's clock is left alone.
Rates come from the monotonic clock, so they must stay non-negative; the store must keep every
sample, once; and the API must still give charts ordered, plottable data.
"""

from __future__ import annotations

import math
import sqlite3
import time

from statsserver.generator import Generator

from ..conftest import launch_server
from .store import integrity, raw_samples

STEPS = 15
JUMPS = [("on time", 0.0), ("back an hour", -3600.0), ("forward a day", 86400.0), ("on time again", 0.0)]


def test_wall_clock_jumps_keep_data_ordered_and_rates_non_negative(tmp_path, make_config, tally):
    found = tally("Clock jumps")
    config = make_config("interval = 0.1\n")
    offset = [0.0]
    generator = Generator(config, source="jumpy", clock=lambda: time.time() + offset[0])
    generator.open()
    written = []
    try:
        for _, shift in JUMPS:
            offset[0] = shift
            for _ in range(STEPS):
                generator.step()
                written.append(time.time() + shift)
                time.sleep(0.1)
            generator.maintain()  # compaction and retention judge by the jumped clock too
            found.runs += 1
    finally:
        generator.close()
    database = config.database_path
    assert integrity(database) == "ok"

    samples = raw_samples(database)
    with sqlite3.connect(database) as db:
        counters = {(category, label) for category, label in db.execute(
            "SELECT category, label FROM series WHERE kind = 'counter'")}
    assert counters, "no counter series: the rate check would prove nothing"
    stored_times = set()
    for (_, category, label), stored in samples.items():
        times = [t for t, _ in stored]
        assert len(times) == len(set(times)), f"{category}/{label}: a sample stored twice"
        stored_times.update(times)
        if (category, label) in counters:
            negative = [v for _, v in stored if v < 0]
            assert not negative, f"{category}/{label}: negative rates {negative[:3]}"
    lost = STEPS * len(JUMPS) - len(stored_times)
    found.lost += max(lost, 0)
    assert lost == 0, f"{lost} samples missing"

    server = launch_server(tmp_path, command="serve", directory=database.parent)
    try:
        with server.client() as client:
            now = time.time()
            for start, end in [(now - 7200, now + 60), (now - 7200, now + 2 * 86400), (now + 86000, now + 87000)]:
                answer = client.get("/api/data", params={"source": "jumpy", "from": start, "to": end, "points": 500})
                assert answer.status_code == 200, answer.text
                data = answer.json()
                times = data["times"]
                assert times == sorted(set(times)), "chart times out of order"
                assert len(times) > 0
                for series in data["series"]:
                    assert len(series["avg"]) == len(times)
                    for value in series["min"] + series["avg"] + series["max"]:
                        assert value is None or math.isfinite(value)
                    if (series["category"], series["label"]) in counters:
                        assert all(v is None or v >= 0 for v in series["min"]), series["label"]
            for at in written:
                moment = client.get("/api/moment", params={"source": "jumpy", "t": at})
                assert moment.status_code == 200 and moment.json()["values"], at
            assert client.get("/api/latest", params={"source": "jumpy"}).status_code == 200
    finally:
        server.stop()
