"""Process history through a real `statsserver run` process: a real child that burns CPU."""

import subprocess
import sys
import time

import psutil
import pytest

from ..conftest import wait_for

BURNER = "import time\nend = time.time() + 60\nwhile time.time() < end: pass  # statsserver-burner"


def listed(client, pid, t=None):
    found = client.get("/api/processes", params={"t": time.time() if t is None else t}).json()
    return next((p for p in found["processes"] if p["pid"] == pid), None)


def burned_percent(process, seconds):
    before, started = sum(process.cpu_times()[:2]), time.monotonic()
    time.sleep(seconds)
    return (sum(process.cpu_times()[:2]) - before) / (time.monotonic() - started) * 100


def test_a_burning_child_is_listed_then_gone_and_its_history_is_served(start_server):
    server = start_server(interval=0.25)
    child = subprocess.Popen([sys.executable, "-c", BURNER])
    try:
        with server.client() as client:
            entry = wait_for(lambda: listed(client, child.pid))
            assert "python" in entry["name"] and "statsserver-burner" in entry["command"]
            watched = psutil.Process(child.pid)
            time.sleep(0.5)  # past the first sample, which has no CPU rate yet
            begin = time.time()
            burned = burned_percent(watched, 3.0)
            end = time.time()
            assert burned > 20  # it did run, so the comparison below means something
            history = client.get("/api/process", params={"pid": child.pid, "started": entry["started"],
                                                          "from": begin, "to": end, "points": 1}).json()
            assert history["name"] == entry["name"] and history["tier"] == "raw"
            assert history["cpu"]["avg"][0] == pytest.approx(burned, abs=15)
            # One sample of a quarter second is noisy on a shared machine; the average above is not.
            at_end = wait_for(lambda: listed(client, child.pid, end), timeout=5)
            assert at_end["cpu"] > 0
    finally:
        child.kill()
        child.wait()
    gone = time.time()
    with server.client() as client:
        wait_for(lambda: listed(client, child.pid, time.time()) is None
                 and client.get("/api/processes", params={"t": time.time()}).json()["time"] > gone + 0.5)
        # Exited, and still in the history of the moments it ran.
        assert listed(client, child.pid, begin + 1) is not None
        history = client.get("/api/process", params={"pid": child.pid, "started": entry["started"],
                                                      "from": begin - 10, "to": time.time(), "points": 100}).json()
        assert 5 <= len(history["times"]) <= 100
        assert max(history["times"]) < gone + 1
        moment = client.get("/api/moment", params={"t": begin + 1}).json()
        assert child.pid in [p["pid"] for p in moment["processes"]]
        assert {"/api/processes", "/api/process"} <= set(client.get("/api/openapi.json").json()["paths"])


BAD_QUERIES = [
    ("/api/process", {"pid": -1, "started": 1}, 400, "pid"),
    ("/api/process", {"pid": 1, "started": "nan"}, 400, "started"),
    ("/api/process", {"pid": 1}, 400, "started"),
    ("/api/process", {"pid": 1, "started": 1, "from": 10, "to": 5}, 400, "from"),
    ("/api/process", {"pid": 1, "started": 12345}, 404, "started"),
    ("/api/process", {"pid": 1, "started": 1, "source": "nobody"}, 404, "source"),
    ("/api/processes", {}, 400, "t"),
    ("/api/processes", {"t": "inf"}, 400, "t"),
]


def test_bad_process_queries_get_a_reason_naming_the_field(start_server):
    server = start_server()  # one server for every case: each start costs seconds
    with server.client() as client:
        wait_for(lambda: client.get("/api/latest").json()["values"].get("cpu"))
        for path, params, status, field in BAD_QUERIES:
            response = client.get(path, params=params)
            assert response.status_code == status, (path, params, response.text)
            assert response.json()["field"] == field and response.json()["error"], (path, params)
