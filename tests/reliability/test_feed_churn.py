"""Live-feed churn: 500 clients connect in waves and drop in every way a browser can go away.

The server runs in this process (uvicorn on a loopback port, the real app and protocol) so the
test can count what a leak would leave behind: asyncio tasks, feed subscriptions, connections,
and the objects of each request.
"""

from __future__ import annotations

import asyncio
import gc
import threading

import psutil
import pytest
import uvicorn

from statsserver.generator import Generator
from statsserver.server.app import create_app
from statsserver.server.feed import Client, EventStream
from statsserver.server.slowclients import BoundedHttpProtocol

from ..conftest import free_port, wait_for

WAVES = 5
PER_WAVE = 100
TOKEN = "churn-token"


def leftovers() -> dict[str, int]:
    gc.collect()
    counts = {"Client": 0, "EventStream": 0, "BoundedHttpProtocol": 0}
    for thing in gc.get_objects():
        kind = type(thing)
        if kind is Client or kind is EventStream or kind is BoundedHttpProtocol:
            counts[kind.__name__] += 1
    return counts


async def one_client(port: int, number: int) -> str:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET /api/live HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n\r\n".encode())
    await writer.drain()
    await asyncio.wait_for(reader.readuntil(b"data: "), 30)  # connected, and one sample arrived
    how = number % 4
    if how == 0:  # the tab is closed: the connection is reset
        writer.transport.abort()
    elif how == 1:  # navigated away: an orderly close
        writer.close()
        await writer.wait_closed()
    elif how == 2:  # stops reading for a while, then vanishes without a goodbye
        # (One that stops reading and keeps the connection is let go only once the kernel's
        # socket buffers fill, minutes at this rate: a bound, but too slow for this test.)
        writer.transport.pause_reading()
        await asyncio.sleep(3)
        writer.transport.abort()
    else:  # reads a little longer, then goes
        await asyncio.wait_for(reader.readuntil(b"data: "), 30)
        writer.close()
    return "ok"


@pytest.mark.long
def test_500_clients_in_waves_leave_nothing_behind(make_config, tally):
    found = tally("Live-feed churn")
    config = make_config("interval = 0.1\n")
    stop = threading.Event()
    generator = Generator(config, source="churn")
    generator.open()
    collecting = threading.Thread(target=generator.loop, args=(stop,))
    collecting.start()
    app = create_app(config, TOKEN, "churn")
    loops = {}

    async def recording(scope, receive, send):
        loops.setdefault("server", asyncio.get_running_loop())
        await app(scope, receive, send)

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(recording, host="127.0.0.1", port=port, http=BoundedHttpProtocol,
                                           lifespan="on", log_level="warning"))
    serving = threading.Thread(target=server.run)
    serving.start()
    try:
        wait_for(lambda: server.started)
        feed = app.state.feed

        def tasks() -> int:
            future = asyncio.run_coroutine_threadsafe(_count_tasks(), loops["server"])
            return future.result(10)

        me = psutil.Process()
        baseline_tasks, baseline = tasks(), leftovers()
        memory = []
        for wave in range(WAVES):
            async def wave_of_clients():
                return await asyncio.gather(*(one_client(port, n) for n in range(PER_WAVE)),
                                            return_exceptions=True)

            outcomes = asyncio.run(wave_of_clients())
            failures = [o for o in outcomes if o != "ok"]
            found.runs += PER_WAVE
            found.failures += len(failures)
            assert not failures, failures[:3]
            # Every kind of goodbye is noticed: the stalled ones once their queue fills (64 samples).
            wait_for(lambda: not feed.clients and not server.server_state.connections, timeout=40)
            wait_for(lambda: tasks() <= baseline_tasks, timeout=10)
            memory.append(me.memory_info().rss)
        left = leftovers()
        assert left == baseline, (baseline, left)
        grown = (memory[-1] - memory[1]) / memory[1]
        found.notes.append(f"{WAVES} waves of {PER_WAVE}; tasks back to {baseline_tasks}, no subscriptions or "
                           f"connections left; RSS from wave 2 to {WAVES}: {grown:+.1%}")
        assert grown < 0.10, memory
    finally:
        server.should_exit = True
        serving.join(30)
        stop.set()
        collecting.join(30)


async def _count_tasks() -> int:
    return len([t for t in asyncio.all_tasks() if not t.done()]) - 1  # less this one
