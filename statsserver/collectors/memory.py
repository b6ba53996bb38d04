"""Memory and swap, in bytes."""

from __future__ import annotations

import psutil

from .base import Collector, gauge

MEMORY_FIELDS = ("used", "available", "cached", "buffers", "total")


class Memory(Collector):
    name = "memory"
    inline = True
    produces = {
        "memory": gauge("B", description="Physical memory"),
        "swap": gauge("B", description="Swap space"),
    }

    def collect(self):
        memory = psutil.virtual_memory()
        swap = psutil.swap_memory()
        return {
            # cached and buffers exist on Linux and the BSDs only
            "memory": {field: getattr(memory, field, None) for field in MEMORY_FIELDS},
            "swap": {"used": swap.used, "total": swap.total},
        }
