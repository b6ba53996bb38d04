"""What every collector shares: the declaration of what it produces, and counters turned into rates.

A collector declares `produces`, one Metric per family of categories, and implements
`collect()`, which returns raw readings: {category: {label: number}}. A category is a family name,
optionally followed by a dot and a device (`network.eth0` belongs to the family `network`), so
a collector can report devices it discovers at run time. Counters are raw running totals;
`Collector.read` turns them into per-second rates, in this one place.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Hashable, Mapping

GAUGE = "gauge"
COUNTER = "counter"

Readings = dict[str, dict[str, float]]


@dataclass(frozen=True)
class Metric:
    # "%", "B", "B/s", "°C", "Hz", "RPM", "s", "/s" or "" for a count; None (pushed data that
    # names none) keeps what the category has
    unit: str | None = ""
    kind: str = GAUGE
    graph: bool | None = True  # False: shown as values (free disk space), not drawn as a chart; None keeps
    scale: float = 1.0  # counters: factor applied to the per-second rate (CPU seconds/s -> %)
    maximum: float | None = None  # counters: a rate above this is sampling jitter, clamp it
    description: str = ""


def gauge(unit: str | None = "", graph: bool | None = True, description: str = "") -> Metric:
    return Metric(unit, GAUGE, graph, description=description)


def counter(unit: str = "", scale: float = 1.0, maximum: float | None = None, description: str = "") -> Metric:
    return Metric(unit, COUNTER, True, scale, maximum, description)


def family(category: str) -> str:
    return category.split(".", 1)[0]


class Rates:
    """Per-second rates of running counters, keyed by anything hashable.

    The first reading of a key gives no rate (None), not a false zero. A counter that went down
    (reset, reboot, wrap) gives None too, never a negative rate. Keys not read in the last round
    are forgotten, so a vanished disk, interface or process leaves nothing behind and a device
    that comes back starts afresh.
    """

    def __init__(self) -> None:
        self._previous: dict[Hashable, tuple[float, float]] = {}
        self._current: dict[Hashable, tuple[float, float]] = {}

    def start_round(self) -> None:
        self._previous, self._current = self._current, {}

    def rate(self, key: Hashable, value: float, now: float) -> float | None:
        self._current[key] = (value, now)
        last = self._previous.get(key)
        if last is None:
            return None
        delta, elapsed = value - last[0], now - last[1]
        if delta < 0 or elapsed <= 0:
            return None
        return delta / elapsed

    def __len__(self) -> int:
        return len(self._current)


class Collector:
    """A source of readings. Subclasses set `name` and `produces` and implement `collect()`."""

    name: str = ""
    produces: Mapping[str, Metric] = {}
    # Built-in collectors are quick and run in the sampling thread; plugins run in a worker
    # thread of their own so that a slow one cannot hold up the others.
    inline: bool = False

    def __init__(self) -> None:
        self._rates = Rates()

    def unavailable(self) -> str | None:
        """Why this collector cannot run on this machine (no sensors, no battery), or None."""
        return None

    def collect(self) -> Mapping[str, Mapping[str, float | None]]:
        raise NotImplementedError

    def metric(self, category: str) -> Metric:
        try:
            return self.produces[family(category)]
        except KeyError:
            raise ValueError(
                f"collector {self.name!r} returned category {category!r}, which is not in its "
                f"`produces` ({', '.join(self.produces)})"
            ) from None

    def read(self, now: float) -> Readings:
        """Collect once and return finished values: counters as rates, gaps left out.

        `now` is a monotonic clock, so a step of the wall clock never makes a rate negative.
        """
        raw = self.collect()
        self._rates.start_round()
        result: Readings = {}
        for category, entries in raw.items():
            metric = self.metric(category)
            values: dict[str, float] = {}
            for label, value in entries.items():
                if value is None:
                    continue
                value = float(value)
                if metric.kind == COUNTER:
                    rate = self._rates.rate((category, label), value, now)
                    if rate is None:
                        continue
                    value = rate * metric.scale
                    if metric.maximum is not None:
                        value = min(value, metric.maximum)
                if math.isfinite(value):
                    values[str(label)] = value
            if values:
                result[category] = values
        return result
