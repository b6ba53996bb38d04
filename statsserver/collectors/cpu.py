"""CPU: busy share in total and per core, time per mode, frequency and load average."""

from __future__ import annotations

import os

import psutil

from .base import Collector, counter, gauge

# Of the fields psutil reports, these are already counted inside user and nice (Linux).
_GUEST_FIELDS = ("guest", "guest_nice")
_IDLE_FIELDS = ("idle", "iowait")
MODES = ("user", "system", "iowait", "steal")


def busy_and_total(times) -> tuple[float, float]:
    fields = times._asdict()
    total = sum(fields.values()) - sum(fields.get(name, 0.0) for name in _GUEST_FIELDS)
    return total - sum(fields.get(name, 0.0) for name in _IDLE_FIELDS), total


class Cpu(Collector):
    name = "cpu"
    inline = True
    produces = {
        # CPU seconds per second, as a share of one core (per core) or of all (total).
        "cpu": counter("%", scale=100, maximum=100, description="Busy share, all cores and each core"),
        "cpu_modes": counter("%", scale=100, maximum=100, description="Share of all cores' time by mode"),
        "cpu_frequency": gauge("Hz", description="Mean current clock frequency"),
        "load": gauge("", description="Load average: runnable and waiting tasks"),
    }

    def collect(self):
        cores = psutil.cpu_times(percpu=True)
        count = len(cores)
        busy = {f"core{index}": busy_and_total(core)[0] for index, core in enumerate(cores)}
        readings = {
            "cpu": {"total": sum(busy.values()) / count, **busy},
            "cpu_modes": {
                mode: sum(getattr(core, mode) for core in cores) / count
                for mode in MODES
                if hasattr(cores[0], mode)
            },
            "load": dict(zip(("1m", "5m", "15m"), os.getloadavg())),
        }
        frequency = psutil.cpu_freq() if hasattr(psutil, "cpu_freq") else None
        if frequency and frequency.current:
            readings["cpu_frequency"] = {"mean": frequency.current * 1e6}
        return readings
