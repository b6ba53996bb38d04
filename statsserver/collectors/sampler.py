"""One sample of every collector, with each collector's failure kept to itself."""

from __future__ import annotations

import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from .base import Collector, Metric, Readings
from .processes import Process, ProcessTable

log = logging.getLogger(__name__)


@dataclass
class Sample:
    time: float  # Unix time, seconds
    values: Readings  # {category: {label: value}}
    metrics: dict[str, Metric]  # the declaration behind each category in `values`
    processes: list[Process] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "time": self.time,
            "categories": {
                category: {
                    "unit": self.metrics[category].unit,
                    "kind": self.metrics[category].kind,
                    "graph": self.metrics[category].graph,
                    "values": values,
                }
                for category, values in sorted(self.values.items())
            },
            "processes": [process.as_dict() for process in self.processes],
        }


class _Health:
    """Logs a collector's failure once, not every interval, and says when it recovers."""

    def __init__(self) -> None:
        self.failing: set[str] = set()

    def failed(self, name: str, message: str, exc_info: bool = False) -> None:
        if name not in self.failing:
            self.failing.add(name)
            log.error("collector %s %s; it is retried every sample, further failures are not logged",
                      name, message, exc_info=exc_info)

    def succeeded(self, name: str) -> None:
        if name in self.failing:
            self.failing.discard(name)
            log.info("collector %s works again", name)


class Sampler:
    def __init__(self, collectors: list[Collector], processes: ProcessTable | None = None,
                 plugin_budget: float = 1.0, clock=time.time) -> None:
        # The wall clock stamps samples and nothing else (rates and budgets use the monotonic
        # one), so a test can step it back or forward without touching the machine's clock.
        self.clock = clock
        self.inline = [c for c in collectors if c.inline]
        self.isolated = [c for c in collectors if not c.inline]
        self.processes = processes
        self.plugin_budget = plugin_budget
        self.health = _Health()
        self._workers = {c.name: ThreadPoolExecutor(1, thread_name_prefix=f"collector-{c.name}")
                         for c in self.isolated}
        self._pending: dict[str, Future] = {}

    def sample(self) -> Sample:
        now = time.monotonic()
        wall = self.clock()
        values: Readings = {}
        metrics: dict[str, Metric] = {}

        started = self._start_isolated(now)
        for collector in self.inline:
            self._merge(collector, self._guarded(collector, lambda c=collector: c.read(now)), values, metrics)
        if started:
            wait(started.values(), timeout=self.plugin_budget)
        for collector in self.isolated:
            future = started.get(collector.name)
            if future is None:
                continue
            if not future.done():
                self.health.failed(collector.name, f"took longer than {self.plugin_budget:g} s; "
                                   "its values are skipped until it returns")
                continue
            self._pending.pop(collector.name, None)
            self._merge(collector, self._guarded(collector, future.result), values, metrics)

        processes = []
        if self.processes is not None:
            processes = self._guarded_processes(now)
        return Sample(wall, values, metrics, processes)

    def _start_isolated(self, now: float) -> dict[str, Future]:
        started = {}
        for collector in self.isolated:
            pending = self._pending.get(collector.name)
            if pending is not None and not pending.done():
                continue  # still busy with an earlier call: don't pile up more
            future = self._workers[collector.name].submit(collector.read, now)
            self._pending[collector.name] = started[collector.name] = future
        return started

    def _guarded(self, collector: Collector, call) -> Readings:
        try:
            readings = call()
        except Exception as error:
            self.health.failed(collector.name, f"failed: {error!r}", exc_info=True)
            return {}
        self.health.succeeded(collector.name)
        return readings

    def _guarded_processes(self, now: float) -> list[Process]:
        try:
            snapshot = self.processes.snapshot(now)
        except Exception as error:
            self.health.failed("processes", f"failed: {error!r}", exc_info=True)
            return []
        self.health.succeeded("processes")
        return snapshot

    @staticmethod
    def _merge(collector: Collector, readings: Readings, values: Readings, metrics: dict[str, Metric]) -> None:
        for category, entries in readings.items():
            if category in values:
                continue  # another collector claimed it first; logged at load time
            values[category] = entries
            metrics[category] = collector.metric(category)

    def close(self) -> None:
        for worker in self._workers.values():
            worker.shutdown(wait=False, cancel_futures=True)
