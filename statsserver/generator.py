"""The generator: samples every interval into the store until told to stop.

One generator writes one database; a lock file next to it keeps a second one out.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from pathlib import Path

from .collectors.processes import ProcessTable
from .collectors.sampler import Sampler
from .plugins import load_collectors
from .storage import StoreError, Writer

log = logging.getLogger(__name__)

# Maintenance (compaction, rollups, retention) once a minute keeps the head small: a raw window
# is compacted a minute or so after it closes.
MAINTAIN_EVERY_SECONDS = 60.0
# One maintenance run stops after this long and the next carries on, so a large backlog (a
# database migrated from the row-per-sample schema) never holds up sampling for long.
MAINTAIN_BUDGET_SECONDS = 5.0

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; running two collectors there is on the user
    fcntl = None


class AlreadyRunning(Exception):
    pass


class WriterLock:
    """An advisory lock beside the database: released by the kernel even on SIGKILL."""

    def __init__(self, database: Path) -> None:
        self.path = database.with_name(database.name + ".lock")
        self.handle = None

    def acquire(self, wait: float = 0.0) -> None:
        """Take the lock, waiting up to `wait` seconds (a server may hold it for a moment)."""
        if fcntl is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.handle = open(self.path, "a+")
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() < deadline:
                    time.sleep(0.1)
                    continue
                self.handle.seek(0)
                holder = self.handle.read().strip() or "another process"
                self.handle.close()
                self.handle = None
                raise AlreadyRunning(
                    f"{self.path.with_suffix('')}: a collector is already writing to it (pid {holder})") from None
        self.handle.seek(0)
        self.handle.truncate()
        self.handle.write(str(os.getpid()))
        self.handle.flush()

    def release(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None


def retention_settings(config) -> dict[str, float]:
    return {key: getattr(config.generator, key) for key in ("keep_raw", "keep_minutes", "keep_hours")}


def maintain_if_alone(writer: Writer, config) -> bool:
    """Compact and apply retention when no collector does (a server that only takes pushes).

    Returns whether it ran: with a collector on the database, maintenance is the collector's job.
    """
    lock = WriterLock(config.database_path)
    try:
        lock.acquire()
    except AlreadyRunning:
        return False
    try:
        writer.maintain(time.time(), retention_settings(config), config.generator.max_age,
                        budget=MAINTAIN_BUDGET_SECONDS)
    finally:
        lock.release()
    return True


def build_sampler(config, clock=time.time) -> Sampler:
    collectors = load_collectors(config)
    processes = None
    if config.generator.processes and "processes" not in config.generator.disable:
        processes = ProcessTable(config.generator.processes)
    # A plugin gets half an interval (at most two seconds) to answer before it is skipped.
    budget = min(config.generator.interval / 2, 2.0)
    log.info("collectors: %s%s", ", ".join(c.name for c in collectors),
             ", processes" if processes else "")
    return Sampler(collectors, processes, plugin_budget=budget, clock=clock)


class Generator:
    def __init__(self, config, sampler: Sampler | None = None, source: str | None = None,
                 clock=time.time) -> None:
        """`clock` is the wall clock that stamps samples and drives retention (tests inject one)."""
        self.config = config
        self.interval = config.generator.interval
        self.max_age = config.generator.max_age
        self.keep = retention_settings(config)
        self.source = source or socket.gethostname()
        self.sampler = sampler or build_sampler(config, clock)
        self.clock = clock
        self.lock = WriterLock(config.database_path)
        self.writer: Writer | None = None
        self.samples_written = 0
        self._store_failing = False

    def open(self) -> None:
        self.lock.acquire(wait=5.0)
        try:
            self.writer = Writer(self.config.database_path)
        except BaseException:
            self.lock.release()
            raise
        log.info("writing %s every %g s as source %r", self.config.database_path, self.interval, self.source)

    def close(self) -> None:
        self.sampler.close()
        if self.writer is not None:
            self.writer.close()
            self.writer = None
        self.lock.release()

    def step(self) -> None:
        sample = self.sampler.sample()
        try:
            self.writer.write(self.source, sample.time, sample.values, sample.metrics,
                              sample.processes, interval=self.interval)
        except StoreError as error:
            # The disk may be full or the file briefly locked: keep sampling, say it once.
            if not self._store_failing:
                log.error("%s; samples are dropped until storing works again", error)
            self._store_failing = True
            return
        if self._store_failing:
            log.info("storing samples works again")
            self._store_failing = False
        self.samples_written += 1

    def maintain(self, writer: Writer | None = None) -> None:
        try:
            report = (writer or self.writer).maintain(self.clock(), self.keep, self.max_age,
                                                      budget=MAINTAIN_BUDGET_SECONDS)
        except StoreError as error:
            log.error("%s", error)
            return
        if report.windows or any(report.deleted.values()):
            log.debug("maintenance: %d windows compacted, %d rollup chunks written, deleted %s%s",
                      report.windows, report.rollup_chunks, report.deleted,
                      "" if report.finished else "; more next time")

    def run(self, stop: threading.Event) -> None:
        self.open()
        self.loop(stop)

    def loop(self, stop: threading.Event) -> None:
        """Sample on a fixed grid of the monotonic clock until `stop` is set, then close.

        When a sample takes longer than an interval, the missed ticks are skipped, not caught up.
        """
        maintenance = threading.Thread(target=self._maintain_until, args=(stop,), name="maintenance",
                                       daemon=True)
        maintenance.start()
        try:
            next_tick = time.monotonic()
            while not stop.is_set():
                self.step()
                now = time.monotonic()
                next_tick += self.interval
                if next_tick < now:
                    next_tick = now + self.interval - (now - next_tick) % self.interval
                stop.wait(next_tick - now)
        finally:
            stop.set()
            maintenance.join()
            self.close()

    def _maintain_until(self, stop: threading.Event) -> None:
        """Maintenance once a minute, beside the sampling: a long run never makes a sample late.

        On a connection of its own, so its reads stay out of the sampling thread's transactions;
        SQLite lets each write transaction finish before the next begins.
        """
        try:
            writer = Writer(self.config.database_path)
        except StoreError as error:
            log.error("%s; the store is not maintained", error)
            return
        try:
            while not stop.is_set():
                self.maintain(writer)
                stop.wait(MAINTAIN_EVERY_SECONDS)
        finally:
            writer.close()
