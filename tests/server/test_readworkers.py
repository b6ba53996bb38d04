"""Range queries answered by read worker processes: the same answers, and none lost to a worker's death."""

import asyncio
import os
import signal
import sys
import time

import httpx2
import psutil
import pytest

from statsserver.collectors.base import gauge
from statsserver.server import readworkers
from statsserver.server.readworkers import ReadWorkers
from statsserver.storage.answers import range_json
from statsserver.storage import Reader, Writer

NOW = time.time()
SMALL = 20_000


@pytest.fixture(scope="module")
def database(tmp_path_factory):
    """Ten hours of four series a minute, compacted as the store keeps them."""
    path = tmp_path_factory.mktemp("readworkers") / "statsserver.db"
    writer = Writer(path)
    writer.source_id("box", 60.0)
    points = [("cpu", f"core{core}", NOW - 60 * minute, float((minute * 7 + core) % 100))
              for minute in range(1, 600) for core in range(4)]
    writer.write_points("box", points, {"cpu": gauge("%")})
    while not writer.maintain(NOW).finished:
        pass
    writer.close()
    return path


def queries(count: int) -> list[list]:
    """New queries (each ends a millisecond later), of one to ten hours."""
    return [["box", NOW - 3600 * (1 + number % 10), NOW + number * 0.001, 100 + number % 900, ["cpu"]]
            for number in range(count)]


def run(database, check, count=1):
    async def main():
        workers = ReadWorkers(database, count, SMALL)
        await workers.start()
        try:
            return await check(workers)
        finally:
            await workers.stop()

    return asyncio.run(main())


def test_pipelined_queries_come_back_each_to_its_own_asker_even_when_some_are_cancelled(database):
    asked = queries(60)

    async def check(workers):
        tasks = [asyncio.create_task(workers.answer(query, 4 * query[3])) for query in asked]
        await asyncio.sleep(0)  # every query is on its way before any is cancelled
        for task in tasks[::4]:
            task.cancel()
        return await asyncio.gather(*tasks, return_exceptions=True)

    answers = run(database, check)
    reader = Reader(database)
    for number, (query, answer) in enumerate(zip(asked, answers)):
        if number % 4 == 0:
            assert isinstance(answer, asyncio.CancelledError)
        else:
            assert answer == range_json(reader, *query)


def test_a_query_the_worker_cannot_answer_is_left_to_the_server_process(database):
    async def check(workers):
        backwards = await workers.answer(["box", NOW, NOW - 60, 100, None], 400)
        after = await workers.answer(queries(1)[0], 400)
        return backwards, after

    backwards, after = run(database, check)
    assert backwards is None  # the server's process asks the store itself, and answers the ValueError
    assert after == range_json(Reader(database), *queries(1)[0])


def test_queries_in_flight_when_a_worker_dies_fall_back_and_another_worker_starts(database, monkeypatch):
    monkeypatch.setattr(readworkers, "RESTART_SECONDS", 0.0)

    async def check(workers):
        await workers.answer(queries(1)[0], 400)  # started and ready
        [worker] = workers._workers
        in_flight = [asyncio.create_task(workers.answer(query, 4 * query[3])) for query in queries(20)]
        await asyncio.sleep(0)
        os.kill(worker.process.pid, signal.SIGKILL)
        fallen_back = await asyncio.wait_for(asyncio.gather(*in_flight), 30)
        again = await workers.answer(queries(2)[1], 400)
        return worker.process.pid, fallen_back, again, [w.process.pid for w in workers._workers]

    killed, fallen_back, again, now_running = run(database, check)
    assert None in fallen_back  # the queries it had not answered yet: none waits forever
    assert again == range_json(Reader(database), *queries(2)[1])
    assert now_running and killed not in now_running


def test_a_worker_that_answers_nothing_is_stopped_and_its_queries_fall_back(database, monkeypatch):
    monkeypatch.setattr(readworkers, "RESTART_SECONDS", 0.0)
    monkeypatch.setattr(readworkers, "WATCH_SECONDS", 0.1)

    async def check(workers):
        await workers.answer(queries(1)[0], 400)  # started and ready
        monkeypatch.setattr(readworkers, "STUCK_SECONDS", 0.5)
        [worker] = workers._workers
        os.kill(worker.process.pid, signal.SIGSTOP)  # alive, and answering nothing
        try:
            started = time.monotonic()
            waited = await asyncio.wait_for(workers.answer(queries(2)[1], 400), 30)
            took = time.monotonic() - started
            await asyncio.wait([worker.reading], timeout=10)  # the server has let it go
            await asyncio.wait_for(worker.process.wait(), 10)
        finally:
            if worker.process.returncode is None:
                os.kill(worker.process.pid, signal.SIGCONT)
        again = await workers.answer(queries(3)[2], 400)
        return waited, took, worker.process.returncode, again, [w.process.pid for w in workers._workers], \
            worker.process.pid

    waited, took, returncode, again, now_running, stopped = run(database, check)
    assert waited is None and took >= 0.5  # answered in the server's process once the worker was found stuck
    assert returncode == -signal.SIGKILL
    assert again == range_json(Reader(database), *queries(3)[2])  # by a new worker
    assert now_running and stopped not in now_running


def test_a_busy_worker_is_not_taken_for_a_stuck_one(database, monkeypatch):
    monkeypatch.setattr(readworkers, "WATCH_SECONDS", 0.05)
    asked = queries(100_000)

    async def check(workers):
        await workers.answer(asked[0], 400)  # started and ready
        monkeypatch.setattr(readworkers, "STUCK_SECONDS", 0.5)
        [worker] = workers._workers
        # Never fewer than 20 queries waiting for it, for four times as long as a stuck one is given.
        started, answers, waiting, asking = time.monotonic(), [], set(), iter(asked[1:])
        while time.monotonic() - started < 2.0:
            while len(waiting) < 20:
                query = next(asking)
                waiting.add(asyncio.create_task(workers.answer(query, 4 * query[3])))
            done, waiting = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            answers += [task.result() for task in done]
        answers += await asyncio.gather(*waiting)
        return answers, worker.alive

    answers, alive = run(database, check)
    assert alive and None not in answers


def test_a_worker_using_cpu_is_not_stuck_though_it_answers_nothing(monkeypatch):
    """One long query: no answer for longer than a stuck worker is given, but its CPU time rises.
    A process that sleeps instead, with a query waiting, is stuck."""
    monkeypatch.setattr(readworkers, "STUCK_SECONDS", 0.3)

    async def watched(code: str) -> list[bool]:
        process = await asyncio.create_subprocess_exec(sys.executable, "-c", code, stdin=asyncio.subprocess.PIPE,
                                                       stdout=asyncio.subprocess.PIPE)
        worker = readworkers._Worker(process)
        worker.waiting.append((asyncio.get_running_loop().create_future(), 1))
        seen = []
        for _ in range(8):  # as the watchdog looks, every WATCH_SECONDS
            await asyncio.sleep(0.1)
            seen.append(worker.stuck())
        worker.kill()
        await process.wait()
        return seen

    assert asyncio.run(watched("while True: pass")) == [False] * 8
    assert asyncio.run(watched("import time; time.sleep(60)"))[-1] is True


def test_a_small_query_is_not_queued_behind_a_big_one(database):
    async def check(workers):
        big = asyncio.create_task(workers.answer(["box", NOW - 36000, NOW, 10_000, None], 4 * 10_000))
        await asyncio.sleep(0)
        small = await workers.answer(queries(1)[0], 400)
        return small, await big

    small, big = run(database, check)
    assert small is None  # answered in the server's process instead
    assert big == range_json(Reader(database), "box", NOW - 36000, NOW, 10_000, None)


def workers_of(server) -> list[psutil.Process]:
    return [child for child in psutil.Process(server.process.pid).children()
            if "statsserver.server.readworkers" in " ".join(child.cmdline())]


def push_history(client) -> None:
    points = [{"category": "cpu", "label": f"core{core}", "value": (minute * 7 + core) % 100, "time": NOW - 60 * minute}
              for minute in range(1, 600) for core in range(4)]
    client.post("/api/points", json={"source": "box", "points": points}).raise_for_status()


def test_a_server_sends_new_range_queries_to_its_read_worker(start_server):
    server = start_server(command="serve", settings="read_workers = 1\n")
    [worker] = workers_of(server)
    params = {"source": "box", "from": NOW - 3600, "points": 300, "category": "cpu"}
    with server.client() as client:
        push_history(client)
        expected = client.get("/api/data", params={**params, "to": NOW}).json()
        worker.suspend()
        try:
            # A new query waits for the stopped worker: the server's process does not answer it.
            with pytest.raises(httpx2.TimeoutException):
                client.get("/api/data", params={**params, "to": NOW + 0.001}, timeout=1.0)
        finally:
            worker.resume()
        answer = client.get("/api/data", params={**params, "to": NOW + 0.002})
    assert answer.status_code == 200
    assert answer.json()["series"] == expected["series"]


def test_with_read_workers_0_the_server_answers_alone(start_server):
    server = start_server(command="serve", settings="read_workers = 0\n")
    assert workers_of(server) == []
    with server.client() as client:
        push_history(client)
        answer = client.get("/api/data", params={"source": "box", "points": 100})
    assert answer.status_code == 200 and answer.json()["series"][0]["avg"]


def test_read_workers_end_with_the_server(start_server):
    server = start_server(command="serve", settings="read_workers = 2\n")
    workers = workers_of(server)
    assert len(workers) == 2
    log = server.stop()
    gone, alive = psutil.wait_procs(workers, timeout=10)
    assert alive == []
    assert "read worker" not in log  # their end was the server's doing: nothing to report
