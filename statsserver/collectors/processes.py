"""The top processes by CPU and by memory, each sample.

The scan is the most expensive part of a sample, so on Linux it reads one file per process
(/proc/PID/stat holds the name, state, CPU time, RSS and start time) and fetches the owner and
the command line only for the few processes that make the top, caching them per process.
Elsewhere psutil does the scan.
"""

from __future__ import annotations

import heapq
import os
import pwd
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

from .base import Rates

COMMAND_MAX_CHARS = 1024


@dataclass
class Process:
    pid: int
    name: str
    user: str
    cpu: float | None  # percent of one core, as top shows it: 250 is two and a half cores
    rss: int  # bytes
    state: str
    started: float  # Unix time
    command: str
    disk_read: float | None = None  # bytes/s from storage; None where the system won't say
    disk_write: float | None = None

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class _Row:
    """One process as the scan sees it, before the details of the top few are fetched."""

    pid: int
    name: str
    state: str
    cpu_seconds: float
    rss: int
    started: float
    uid: int | None = None
    command: str | None = None
    cpu: float | None = None


def parse_stat(data: bytes) -> tuple[str, str, int, int, int]:
    """(name, state, cpu ticks, start ticks, rss pages) from the text of /proc/PID/stat."""
    # The name sits in parentheses and may itself contain spaces and parentheses.
    close = data.rindex(b")")
    name = data[data.index(b"(") + 1 : close].decode("utf-8", "replace")
    fields = data[close + 2 :].split()
    # Field numbers (proc(5)) 3 state, 14 utime, 15 stime, 22 starttime, 24 rss.
    return name, fields[0].decode(), int(fields[11]) + int(fields[12]), int(fields[19]), int(fields[21])


def read_small(path: str) -> bytes:
    """One read of a small /proc file, without the cost of a Python file object."""
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.read(fd, 4096)
    finally:
        os.close(fd)


class LinuxScan:
    def __init__(self, proc: str = "/proc") -> None:
        self.proc = proc
        self.ticks = os.sysconf("SC_CLK_TCK")
        self.page_size = os.sysconf("SC_PAGE_SIZE")
        self.boot_time = psutil.boot_time()

    def rows(self) -> list[_Row]:
        rows = []
        for entry in os.listdir(self.proc):
            if not entry.isdigit():
                continue
            try:
                name, state, cpu_ticks, start_ticks, rss_pages = parse_stat(read_small(f"{self.proc}/{entry}/stat"))
            except (OSError, ValueError, IndexError):  # exited mid-scan, or a kernel oddity
                continue
            rows.append(_Row(int(entry), name, state, cpu_ticks / self.ticks,
                             rss_pages * self.page_size, self.boot_time + start_ticks / self.ticks))
        return rows

    def details(self, row: _Row) -> None:
        base = f"{self.proc}/{row.pid}"
        try:
            row.uid = os.stat(base).st_uid
            with open(f"{base}/cmdline", "rb") as handle:
                argv = handle.read(COMMAND_MAX_CHARS * 4).rstrip(b"\0").split(b"\0")
        except OSError:
            return
        row.command = " ".join(arg.decode("utf-8", "replace") for arg in argv if arg)
        # The kernel cuts names at 15 characters; the program's file name is the full one.
        program = os.path.basename(argv[0].decode("utf-8", "replace")).split(" ")[0]
        if len(row.name) == 15 and program.startswith(row.name):
            row.name = program

    def io(self, row: _Row) -> tuple[int, int] | None:
        """Bytes read from and written to storage so far; other users' processes need root."""
        try:
            data = read_small(f"{self.proc}/{row.pid}/io")
            read_at = data.index(b"read_bytes: ") + 12
            write_at = data.index(b"write_bytes: ", read_at) + 13
            return (int(data[read_at : data.index(b"\n", read_at)]),
                    int(data[write_at : data.index(b"\n", write_at)]))
        except (OSError, ValueError):
            return None


class PsutilScan:
    """The portable scan, for systems without /proc."""

    def rows(self) -> list[_Row]:
        rows = []
        for process in psutil.process_iter(["name", "status", "cpu_times", "memory_info", "create_time"]):
            info = process.info
            if info["cpu_times"] is None or info["memory_info"] is None:
                continue  # access denied
            cpu = info["cpu_times"]
            rows.append(_Row(process.pid, info["name"] or "", info["status"] or "",
                             cpu.user + cpu.system, info["memory_info"].rss, info["create_time"] or 0.0))
        return rows

    def details(self, row: _Row) -> None:
        try:
            process = psutil.Process(row.pid)
            with process.oneshot():
                row.uid = process.uids().real if hasattr(process, "uids") else None
                row.command = " ".join(process.cmdline())
        except (psutil.Error, OSError):
            pass

    def io(self, row: _Row) -> tuple[int, int] | None:
        try:
            counters = psutil.Process(row.pid).io_counters()
        except (psutil.Error, OSError, AttributeError):  # macOS has no per-process I/O counters
            return None
        return counters.read_bytes, counters.write_bytes


def user_name(uid: int | None, cache: dict[int, str]) -> str:
    if uid is None:
        return ""
    if uid not in cache:
        try:
            cache[uid] = pwd.getpwuid(uid).pw_name
        except KeyError:
            cache[uid] = str(uid)
    return cache[uid]


class ProcessTable:
    """Keeps CPU-time state across samples and returns the top processes of each."""

    def __init__(self, top: int, scan=None) -> None:
        self.top = top
        self.scan = scan or (LinuxScan() if Path("/proc/self/stat").exists() else PsutilScan())
        self._rates = Rates()
        self._io_rates = Rates()
        self._details: dict[tuple[int, float], tuple[int | None, str, str]] = {}
        self._users: dict[int, str] = {}

    def snapshot(self, now: float | None = None) -> list[Process]:
        """The top `top` by CPU and the top `top` by memory (overlapping), biggest CPU first.

        The first call has no CPU figures yet, so it ranks by memory alone and reports cpu None.
        """
        now = time.monotonic() if now is None else now
        rows = self.scan.rows()
        self._rates.start_round()
        for row in rows:
            # (pid, start time) names a process: a reused pid starts from scratch.
            rate = self._rates.rate((row.pid, row.started), row.cpu_seconds, now)
            row.cpu = None if rate is None else rate * 100
        by_memory = heapq.nlargest(self.top, rows, key=lambda row: row.rss)
        by_cpu = heapq.nlargest(self.top, (r for r in rows if r.cpu is not None), key=lambda r: r.cpu)
        chosen = {row.pid: row for row in by_cpu + by_memory}.values()

        alive = {(row.pid, row.started) for row in rows}
        self._details = {key: value for key, value in self._details.items() if key in alive}
        result = []
        self._io_rates.start_round()
        for row in chosen:
            key = (row.pid, row.started)
            if key not in self._details:
                self.scan.details(row)
                self._details[key] = (row.uid, row.name, row.command or "")
            uid, name, command = self._details[key]
            # Only the top few pay for an I/O read; a process new to the top has no rate yet.
            disk_read = disk_write = None
            counters = self.scan.io(row)
            if counters is not None:
                disk_read = self._io_rates.rate((key, "read"), counters[0], now)
                disk_write = self._io_rates.rate((key, "write"), counters[1], now)
            result.append(Process(row.pid, name, user_name(uid, self._users),
                                  None if row.cpu is None else round(row.cpu, 1), row.rss,
                                  row.state, round(row.started, 2), command[:COMMAND_MAX_CHARS],
                                  disk_read, disk_write))
        result.sort(key=lambda p: (p.cpu or 0.0, p.rss), reverse=True)
        return result
