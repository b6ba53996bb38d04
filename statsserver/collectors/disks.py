"""Disks: space per mount point, and I/O per physical disk."""

from __future__ import annotations

import os
import time

import psutil

from .base import Collector, counter, gauge

# Mounts change rarely; listing them costs more than the space figures themselves.
MOUNTS_REFRESH_SECONDS = 60
# Block devices that are not disks: loop files, RAM disks, compressed swap in RAM.
_NOT_DISKS = ("loop", "ram", "zram")


def physical_disks(names) -> set[str]:
    """Whole disks among /proc/diskstats names: what /sys/block lists (partitions aren't there)."""
    try:
        blocks = set(os.listdir("/sys/block"))
    except OSError:  # not Linux: psutil reports whole disks only
        blocks = set(names)
    return {name for name in names if name in blocks and not name.startswith(_NOT_DISKS)}


class Disks(Collector):
    name = "disks"
    inline = True
    produces = {
        "disk_usage": gauge("%", description="Share of each file system in use"),
        "disk_free": gauge("B", graph=False, description="Free space per mount point"),
        "disk_used": gauge("B", graph=False, description="Used space per mount point"),
        "disk_total": gauge("B", graph=False, description="Size per mount point"),
        "disk_io": counter("B/s", description="Bytes read and written"),
        "disk_ops": counter("/s", description="Read and write operations"),
        "disk_busy": counter("%", scale=0.1, maximum=100, description="Time the disk was busy"),
    }

    def __init__(self) -> None:
        super().__init__()
        self._mounts: list[str] = []
        self._mounts_read_at = float("-inf")

    def mounts(self) -> list[str]:
        if time.monotonic() - self._mounts_read_at > MOUNTS_REFRESH_SECONDS:
            by_device = {}
            for partition in psutil.disk_partitions(all=False):
                by_device.setdefault(partition.device, partition.mountpoint)  # bind mounts once
            self._mounts = sorted(by_device.values())
            self._mounts_read_at = time.monotonic()
        return self._mounts

    def collect(self):
        readings = {name: {} for name in ("disk_usage", "disk_free", "disk_used", "disk_total")}
        for mount in self.mounts():
            try:
                usage = psutil.disk_usage(mount)
            except OSError:  # unmounted since the list was read
                continue
            readings["disk_usage"][mount] = usage.percent
            readings["disk_free"][mount] = usage.free
            readings["disk_used"][mount] = usage.used
            readings["disk_total"][mount] = usage.total
        io = psutil.disk_io_counters(perdisk=True) or {}
        for disk in sorted(physical_disks(io)):
            counters = io[disk]
            readings[f"disk_io.{disk}"] = {"read": counters.read_bytes, "write": counters.write_bytes}
            readings[f"disk_ops.{disk}"] = {"read": counters.read_count, "write": counters.write_count}
            if hasattr(counters, "busy_time"):
                readings.setdefault("disk_busy", {})[disk] = counters.busy_time
        return readings
