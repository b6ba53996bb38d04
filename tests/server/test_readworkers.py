"""Range queries answered by read worker processes: the same answers, and none lost to a worker's death."""

import os
import signal
import time

import psutil

from statsserver.server.readworkers import answer
from statsserver.storage import Reader
from tests.conftest import wait_for


def workers_of(server) -> list[psutil.Process]:
    return [child for child in psutil.Process(server.process.pid).children()
            if "statsserver.server.readworkers" in " ".join(child.cmdline())]


def idle_cpu_seconds(worker: psutil.Process) -> float:
    """The worker's CPU time once it has started up (imported numpy, opened the database) and rests."""
    def resting():
        before = sum(worker.cpu_times()[:2])
        time.sleep(0.3)
        after = sum(worker.cpu_times()[:2])
        return after if after == before else None

    return wait_for(resting)


def push_history(client, now: float) -> None:
    points = [{"category": "cpu", "label": f"core{core}", "value": (minute * 7 + core) % 100, "time": now - 60 * minute}
              for minute in range(1, 600) for core in range(4)]
    client.post("/api/points", json={"source": "box", "points": points}).raise_for_status()


QUERIES = [(3600, 100), (6 * 3600, 500), (10 * 3600, 1000), (300, 1000)]


def test_a_read_worker_answers_range_queries_as_the_server_would(start_server):
    server = start_server(command="serve", settings="read_workers = 1\n")
    [worker] = workers_of(server)
    now = time.time()
    with server.client() as client:
        push_history(client, now)
        busy_before = idle_cpu_seconds(worker)
        for number, (span, points) in enumerate(QUERIES * 20):
            end = now + number * 0.001  # a new query each time: none from the kept answers
            response = client.get("/api/data", params={"source": "box", "from": end - span, "to": end,
                                                        "points": points, "category": "cpu"})
            assert response.status_code == 200
    # The worker did the work: it used the CPU the queries cost.
    assert sum(worker.cpu_times()[:2]) - busy_before > 0.05
    reader = Reader(server.directory / "statsserver.db")
    with server.client() as client:
        for span, points in QUERIES:
            end = now + 1.5
            sent = client.get("/api/data", params={"source": "box", "from": end - span, "to": end,
                                                    "points": points, "category": "cpu"}).content
            assert sent == answer(reader, ("box", end - span, end, points, ["cpu"]))


def test_queries_are_answered_after_a_read_worker_dies(start_server):
    server = start_server(command="serve", settings="read_workers = 1\n")
    [worker] = workers_of(server)
    now = time.time()
    params = {"source": "box", "from": now - 3600, "to": now, "points": 300}
    with server.client() as client:
        push_history(client, now)
        before = client.get("/api/data", params=params).json()
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(10)
        for offset in range(5):  # new queries, not kept answers
            after = client.get("/api/data", params={**params, "to": now + offset * 0.001})
            assert after.status_code == 200
            assert after.json()["series"] == before["series"]
    assert workers_of(server) == []
    assert "a read worker (pid %d) stopped" % worker.pid in server.stop()


def test_no_read_worker_with_read_workers_0_and_none_left_after_stop(start_server):
    alone = start_server(command="serve", settings="read_workers = 0\n")
    assert workers_of(alone) == []
    with alone.client() as client:
        push_history(client, time.time())
        assert client.get("/api/data", params={"source": "box", "points": 100}).status_code == 200
    server = start_server(command="serve", settings="read_workers = 2\n")
    workers = workers_of(server)
    assert len(workers) == 2
    server.stop()
    gone, alive = psutil.wait_procs(workers, timeout=10)
    assert alive == []
