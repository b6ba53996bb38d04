"""Range queries answered by worker processes, so that more than one core answers them.

Folding a range is numpy and SQLite work in small steps, each holding the interpreter: threads
would take turns, not work at once. Each worker is a process of its own, with a read-only
connection, its own decoded blocks and its own kept heads; the server's process keeps
everything else (routing, access, the kept answers, the live feed, the one writer). A query
goes down a pipe and its JSON comes back: the server's process then spends about 1.6 health
checks of CPU on a new query, where answering it itself costs three to four.

Queries are sent to the worker with the fewest waiting, without waiting for the one before: a
worker answers them in turn, so its answers come back in the order they were asked. A worker
that dies takes its waiting queries with it; they, and every query after, are answered in the
server's process (and a line in the log says so), until the server is restarted.
"""

from __future__ import annotations

import asyncio
import logging
import pickle
import signal
import struct
import sys
from collections import deque
from pathlib import Path

import orjson

from ..storage import Reader, StoreError

log = logging.getLogger(__name__)

_LENGTH = struct.Struct("!I")


def answer(reader: Reader, query: tuple) -> bytes:
    """A range query's JSON, as /api/data sends it."""
    return orjson.dumps(reader.query(*query, arrays=True), option=orjson.OPT_SERIALIZE_NUMPY)


class WorkerGone(Exception):
    """The worker stopped before it answered."""


class _Worker:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.waiting: deque[asyncio.Future] = deque()
        self.reading = asyncio.create_task(self._read_answers())

    async def _read_answers(self) -> None:
        stream = self.process.stdout
        try:
            while True:
                (length,) = _LENGTH.unpack(await stream.readexactly(_LENGTH.size))
                outcome, payload = pickle.loads(await stream.readexactly(length))
                waiter = self.waiting.popleft()
                if not waiter.done():
                    if outcome == "answer":
                        waiter.set_result(payload)
                    elif outcome == "store error":
                        waiter.set_exception(StoreError(payload))
                    else:  # answered again in the server's process, which raises it as its own
                        waiter.set_result(None)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            while self.waiting:
                waiter = self.waiting.popleft()
                if not waiter.done():
                    waiter.set_exception(WorkerGone())

    @property
    def alive(self) -> bool:
        return not self.reading.done()

    def ask(self, query: tuple) -> asyncio.Future:
        message = pickle.dumps(query)
        self.process.stdin.write(_LENGTH.pack(len(message)) + message)
        waiter = asyncio.get_running_loop().create_future()
        self.waiting.append(waiter)
        return waiter


class ReadWorkers:
    def __init__(self, database: Path, count: int) -> None:
        self.database = database
        self.count = count
        self._workers: list[_Worker] = []

    async def start(self) -> None:
        for _ in range(self.count):
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", __name__, str(self.database),
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
            self._workers.append(_Worker(process))

    @property
    def pids(self) -> list[int]:
        return [worker.process.pid for worker in self._workers if worker.alive]

    async def answer(self, query: tuple) -> bytes | None:
        """The JSON of `query` (Reader.query's arguments); None when no worker is left, or the
        query failed for another reason than the store's."""
        alive = [worker for worker in self._workers if worker.alive]
        if len(alive) < len(self._workers):
            for worker in self._workers:
                if not worker.alive:
                    log.error("a read worker (pid %d) stopped; its range queries are answered in the "
                              "server's process", worker.process.pid)
            self._workers = alive
        if not alive:
            return None
        try:
            return await min(alive, key=lambda worker: len(worker.waiting)).ask(query)
        except (WorkerGone, ConnectionError):
            return None

    async def stop(self) -> None:
        for worker in self._workers:
            worker.process.stdin.close()  # the worker's end of input: it exits
        for worker in self._workers:
            try:
                await asyncio.wait_for(worker.process.wait(), 5)
            except asyncio.TimeoutError:
                worker.process.kill()
                await worker.process.wait()
            worker.reading.cancel()
        self._workers = []


def serve_queries(database: str) -> None:
    """A worker's life: queries in on stdin, answers out on stdout, until stdin closes."""
    reader = Reader(Path(database))
    source, sink = sys.stdin.buffer, sys.stdout.buffer
    while header := source.read(_LENGTH.size):
        (length,) = _LENGTH.unpack(header)
        query = pickle.loads(source.read(length))
        try:
            reply = ("answer", answer(reader, query))
        except StoreError as error:
            reply = ("store error", str(error))
        except Exception as error:  # noqa: BLE001 (the server's process raises it again, and answers it)
            reply = ("failed", repr(error))
        message = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
        sink.write(_LENGTH.pack(len(message)) + message)
        sink.flush()


if __name__ == "__main__":
    # Ctrl-C reaches the whole process group: the worker answers what the server still asks while
    # it stops, and ends when the server closes its input (or dies).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    serve_queries(sys.argv[1])
