"""Concurrency: the collector at its fastest interval (its own process), 50 readers and a push
client at once, all on one database file: no "database is locked", no 5xx, every accepted push kept."""

from __future__ import annotations

import asyncio
import subprocess
import threading
import time

import httpx2
import pytest

from ..conftest import clean_environ, launch_server, statsserver_command, wait_for
from .store import integrity, raw_samples

READERS = 50
SECONDS = 20.0


async def hammer(url: str, token: str, seconds: float) -> tuple[dict, list[str], int]:
    statuses: dict[int, int] = {}
    problems: list[str] = []
    pushes = 0
    deadline = time.monotonic() + seconds
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx2.Limits(max_connections=READERS + 1)

    async with httpx2.AsyncClient(base_url=url, headers=headers, timeout=60, limits=limits) as client:
        def note(response: httpx2.Response) -> None:
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            if response.status_code >= 500 or "locked" in response.text:
                problems.append(f"{response.request.method} {response.request.url.path}: "
                                f"{response.status_code} {response.text[:200]}")

        async def reader(number: int) -> None:
            routes = ["/api/latest", "/api/series", "/api/sources", "/api/data", "/api/moment"]
            turn = number
            while time.monotonic() < deadline:
                path = routes[turn % len(routes)]
                now = time.time()
                params = {"t": now - 1} if path == "/api/moment" else {"from": now - 300, "to": now, "points": 300}
                try:
                    response = await client.get(path, params=params)
                except (httpx2.ReadError, httpx2.RemoteProtocolError):
                    # A kept-alive connection the server closed as this request left (its idle
                    # timeout): browsers send such a GET again, and so does this reader.
                    response = await client.get(path, params=params)
                note(response)
                turn += 1

        async def pusher() -> None:
            # A connection of its own, as a separate program would have.
            async with httpx2.AsyncClient(base_url=url, headers=headers, timeout=60) as own:
                await push_with(own)

        async def push_with(client: httpx2.AsyncClient) -> None:
            nonlocal pushes
            n = 0
            while time.monotonic() < deadline:
                n += 1
                kind = n % 3
                if kind == 0:
                    response = await client.get("/add_data_point", params={
                        "projectid": "pusher", "category": "single", "label": "n", "value": n})
                elif kind == 1:
                    response = await client.post("/api/points", json={"source": "pusher", "points": [
                        {"category": "batch", "label": f"l{i}", "value": n + i} for i in range(20)]})
                else:
                    response = await client.post("/api/v2/write", content=f"lines,host=pusher a={n},b={n}i".encode())
                note(response)
                if response.status_code < 300:
                    pushes += 1

        await asyncio.gather(pusher(), *(reader(i) for i in range(READERS)))
    return statuses, problems, pushes


@pytest.mark.long
def test_collector_at_fastest_interval_with_50_readers_and_a_pusher(tmp_path, tally):
    found = tally("Concurrency")
    directory = tmp_path / "data"
    collector = subprocess.Popen(statsserver_command("collect", "--directory", str(directory), "--interval", "0.1"),
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=clean_environ())
    collector_log: list[str] = []
    threading.Thread(target=lambda: collector_log.extend(collector.stderr), daemon=True).start()
    server = launch_server(tmp_path, command="serve", directory=directory)
    try:
        wait_for(lambda: (directory / "statsserver.db").exists()
                 and server.client().get("/api/latest").json()["values"])
        statuses, problems, pushes = asyncio.run(hammer(server.url, server.token, SECONDS))
        found.runs += sum(statuses.values())
        found.failures += len(problems)
        found.notes.append(f"{sum(statuses.values())} requests in {SECONDS:g} s, statuses {statuses}")
        assert not problems, problems[:5]
        assert collector.poll() is None
    finally:
        collector.terminate()
        collector.wait(30)
        server_log = server.stop()
    log = "".join(collector_log) + server_log
    assert "locked" not in log and "Traceback" not in log, log[-3000:]
    database = directory / "statsserver.db"
    assert integrity(database) == "ok"
    samples = raw_samples(database)
    single = len(samples.get(("pusher", "single", "n"), []))
    batch = len(samples.get(("pusher", "batch", "l0"), []))
    lines = len(samples.get(("pusher", "lines", "a"), []))
    # Pushes at the same millisecond replace each other (same series, same time); else each is kept.
    lost = pushes - (single + batch + lines)
    found.lost += max(lost, 0)
    assert lost <= 0, f"{pushes} pushes accepted, {single + batch + lines} stored"
