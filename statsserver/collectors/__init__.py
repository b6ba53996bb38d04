"""Built-in collectors. They register through the same hook that plugins use."""

from __future__ import annotations

from ..hooks import hookimpl
from .base import COUNTER, GAUGE, Collector, Metric, Rates, counter, gauge
from .cpu import Cpu
from .disks import Disks
from .memory import Memory
from .network import Network
from .sensors import Sensors
from .system import System

__all__ = ["COUNTER", "GAUGE", "Collector", "Metric", "Rates", "counter", "gauge"]


@hookimpl
def statsserver_collectors(config):
    return [Cpu(), Memory(), Disks(), Network(loopback=config.generator.loopback), Sensors(), System()]


BUILTIN = (Cpu, Memory, Disks, Network, Sensors, System)


def docs_table() -> str:
    """The table of built-in categories in docs/collectors.md, generated from the declarations."""
    lines = ["| collector | category | unit | kind | shown as | what it is |", "|---|---|---|---|---|---|"]
    for collector in BUILTIN:
        for name, metric in collector.produces.items():
            shown = "chart" if metric.graph else "values"
            lines.append(f"| {collector.name} | `{name}` | {metric.unit or '(count)'} | {metric.kind} "
                         f"| {shown} | {metric.description} |")
    return "\n".join(lines) + "\n"
