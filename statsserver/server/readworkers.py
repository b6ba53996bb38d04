"""Range queries answered by worker processes, so that more than one core answers them.

Folding a range is numpy and SQLite work in small steps, each holding the interpreter: threads
would take turns, not work at once. Each worker is a process of its own, with a read-only
connection, its own decoded blocks and its own kept heads; the server's process keeps
everything else (routing, access, the kept answers, the live feed, the one writer). A query
goes down a pipe and its JSON comes back: the server's process then spends about 1.6 health
checks of CPU on a new query, where answering it itself costs three to four.

Queries are sent without waiting for the one before: a worker answers them in turn, so its
answers come back in the order they were asked. A small query is answered in the server's
process rather than behind a big one. A worker that dies takes its waiting queries with it:
they are answered in the server's process, and the worker is started again (at most once a
minute). One that answers nothing for a minute while queries wait is killed, to the same end.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import struct
import sys
import time
from collections import deque
from pathlib import Path

import orjson
import psutil

from ..storage import Reader, StoreError
from ..storage.answers import range_json

log = logging.getLogger(__name__)

# A message: its kind, and the length of what follows.
_HEAD = struct.Struct("!BI")
READY, ANSWER, STORE_FAILED, FAILED = range(4)
# Larger than any answer /api/data gives (10,000 points of a few thousand series): anything
# longer is a broken stream, not a message.
_LONGEST = 2**31
RESTART_SECONDS = 60.0
# A worker with queries waiting that has answered none, and used no CPU, for this long is stuck
# (a hung disk, a stopped process): it is killed, and what it held is answered in the server's
# process. A worker busy with a long queue answers in turn, and one busy with a long query uses
# CPU: neither is stuck.
STUCK_SECONDS = 60.0
WATCH_SECONDS = 5.0
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])


class _Worker:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.started = time.monotonic()
        self.waiting: deque[tuple[asyncio.Future, int]] = deque()  # (answer, its cells)
        self.progress = time.monotonic()  # when it last answered or worked, or was given work when idle
        self._cpu = 0.0  # seconds, as last seen by the watchdog
        self.stopping = False  # its end is the server's doing, not news
        self.reading = asyncio.create_task(self._read_answers())

    async def _read_answers(self) -> None:
        stream, ready = self.process.stdout, False
        try:
            while True:
                kind, length = _HEAD.unpack(await stream.readexactly(_HEAD.size))
                if length > _LONGEST or kind > FAILED or (kind != READY and not self.waiting):
                    raise ValueError(f"a broken message (kind {kind}, {length} bytes)")
                payload = await stream.readexactly(length)
                if kind == READY:
                    ready, self.progress = True, time.monotonic()
                    continue
                waiter, _ = self.waiting.popleft()
                self.progress = time.monotonic()
                if waiter.done():  # its request was cancelled (the client went away)
                    continue
                if kind == ANSWER:
                    waiter.set_result(payload)
                elif kind == STORE_FAILED:
                    waiter.set_exception(StoreError(payload.decode()))
                else:  # None: answered again in the server's process, which raises it as its own
                    log.debug("a read worker failed a query: %s", payload.decode())
                    waiter.set_result(None)
        except (asyncio.IncompleteReadError, ConnectionError):
            if self.stopping:
                pass
            elif ready:
                log.error("read worker (pid %d) stopped; range queries are answered in the server's "
                          "process until another starts", self.process.pid)
            else:
                log.error("a read worker could not start (its reason is above); range queries are "
                          "answered in the server's process")
        except Exception as error:  # noqa: BLE001 (a worker out of step is stopped, never trusted)
            log.error("read worker (pid %d): %s; it is stopped", self.process.pid, error)
            self.kill()
        finally:  # what it had not answered is answered in the server's process
            while self.waiting:
                waiter, _ = self.waiting.popleft()
                if not waiter.done():
                    waiter.set_result(None)

    @property
    def alive(self) -> bool:
        return not self.reading.done()

    @property
    def waiting_cells(self) -> int:
        return sum(cells for _, cells in self.waiting)

    def stuck(self) -> bool:
        """Whether queries wait for it while it does nothing; a rise in its CPU time since the
        last look counts as progress."""
        if not self.waiting:
            return False
        try:
            cpu = sum(psutil.Process(self.process.pid).cpu_times()[:2])
        except psutil.Error:  # gone already: its reader answers what it held
            return False
        if cpu - self._cpu >= 0.01:
            self._cpu, self.progress = cpu, time.monotonic()
        return time.monotonic() - self.progress > STUCK_SECONDS

    def ask(self, query: list, cells: int) -> asyncio.Future:
        if not self.waiting:
            self.progress = time.monotonic()
        message = orjson.dumps(query)
        self.process.stdin.write(_HEAD.pack(ANSWER, len(message)) + message)
        waiter = asyncio.get_running_loop().create_future()
        self.waiting.append((waiter, cells))
        return waiter

    def kill(self) -> None:
        try:
            self.process.kill()
        except ProcessLookupError:
            pass


class ReadWorkers:
    def __init__(self, database: Path, count: int, small_cells: int) -> None:
        self.database = database
        self.count = count
        # Queries up to this many cells (series x points) are not worth waiting behind a big one.
        self.small_cells = small_cells
        self._workers: list[_Worker] = []
        self._watch: asyncio.Task | None = None

    async def start(self) -> None:
        self._workers = [await self._spawn() for _ in range(self.count)]
        if self._workers:
            self._watch = asyncio.create_task(self._stop_stuck_workers())

    async def _stop_stuck_workers(self) -> None:
        while True:
            await asyncio.sleep(WATCH_SECONDS)
            for worker in self._workers:
                if worker.alive and not worker.stopping and worker.stuck():
                    log.error("read worker (pid %d) has answered nothing and used no CPU for %.0f s; it is stopped, and its %d "
                              "waiting queries are answered in the server's process", worker.process.pid,
                              time.monotonic() - worker.progress, len(worker.waiting))
                    worker.stopping = True  # said here; its reader need not say it again
                    worker.kill()
                    # A process in uninterruptible I/O dies only when the I/O returns: its queries
                    # fall back now, and another worker takes its place.
                    worker.reading.cancel()

    async def _spawn(self) -> _Worker:
        # The worker imports the package this process runs, whatever the working directory.
        environ = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (_PACKAGE_ROOT, os.environ.get("PYTHONPATH"))))}
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", __name__, str(self.database), env=environ,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        return _Worker(process)

    async def answer(self, query: list, cells: int) -> bytes | None:
        """The JSON of `query` (Reader.query's arguments, `cells` series x points), or None
        where the server's process answers it: no worker left, only big queries waiting for
        this small one, or a failure other than the store's."""
        await self._restart_dead()
        alive = [worker for worker in self._workers if worker.alive]
        if not alive:
            return None
        chosen = min(alive, key=lambda worker: worker.waiting_cells)
        if cells <= self.small_cells and any(waiting > self.small_cells for _, waiting in chosen.waiting):
            return None
        return await chosen.ask(query, cells)

    async def _restart_dead(self) -> None:
        for number, worker in enumerate(self._workers):
            if not worker.alive and time.monotonic() - worker.started >= RESTART_SECONDS:
                log.warning("starting a read worker in place of pid %d", worker.process.pid)
                self._workers[number] = await self._spawn()

    async def stop(self) -> None:
        if self._watch:
            self._watch.cancel()
        for worker in self._workers:
            worker.stopping = True
            worker.process.stdin.close()  # the end of its input: the worker finishes and exits
        if self._workers:
            exits = [asyncio.ensure_future(worker.process.wait()) for worker in self._workers]
            await asyncio.wait(exits, timeout=5)
            for worker in self._workers:
                if worker.process.returncode is None:
                    worker.kill()
            await asyncio.wait(exits)
        for worker in self._workers:
            worker.reading.cancel()
        self._workers = []


def serve_queries(database: str) -> None:
    """A worker's life: queries in on stdin, answers out on stdout, until stdin closes."""
    # Answers go out on a copy of stdout; stdout itself becomes stderr, so that a stray print
    # (a library's, a plugin's) cannot break the stream of answers.
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    queries = sys.stdin.buffer
    reader = Reader(Path(database))

    def send(kind: int, payload: bytes) -> None:
        answers.write(_HEAD.pack(kind, len(payload)) + payload)
        answers.flush()

    send(READY, b"")
    while head := queries.read(_HEAD.size):
        _, length = _HEAD.unpack(head)
        query = orjson.loads(queries.read(length))
        try:
            send(ANSWER, range_json(reader, *query))
        except StoreError as error:
            send(STORE_FAILED, str(error).encode())
        except Exception as error:  # noqa: BLE001 (the server's process raises it again, and answers it)
            send(FAILED, repr(error).encode())


if __name__ == "__main__":
    # Ctrl-C reaches the whole process group: the worker answers what the server still asks while
    # it stops, and ends when the server closes its input (or dies).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        serve_queries(sys.argv[1])
    except BrokenPipeError:  # the server died while this worker answered it
        pass
