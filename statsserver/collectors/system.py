"""System: uptime, and how many processes and threads exist."""

from __future__ import annotations

import time

import psutil

from .base import Collector, gauge


def threads_linux() -> int | None:
    # The fourth field of /proc/loadavg is "running/total" scheduling entities, i.e. threads:
    # one small read instead of a walk over every process's status file.
    try:
        with open("/proc/loadavg", "rb") as handle:
            return int(handle.read().split()[3].split(b"/")[1])
    except (OSError, IndexError, ValueError):
        return None


class System(Collector):
    name = "system"
    inline = True
    produces = {
        "system": gauge("", description="Processes and threads"),
        "uptime": gauge("s", graph=False, description="Time since the machine started"),
    }

    def __init__(self) -> None:
        super().__init__()
        self._boot_time = psutil.boot_time()

    def uptime(self) -> float:
        if hasattr(time, "CLOCK_BOOTTIME"):  # counts suspend, unaffected by wall-clock steps
            return time.clock_gettime(time.CLOCK_BOOTTIME)
        return time.time() - self._boot_time

    def collect(self):
        return {
            "system": {"processes": len(psutil.pids()), "threads": threads_linux()},
            "uptime": {"uptime": self.uptime()},
        }
