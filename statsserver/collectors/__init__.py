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
