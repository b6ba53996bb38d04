import os
import subprocess
import sys
import time

import psutil
import pytest

from statsserver.collectors.processes import LinuxScan, ProcessTable, PsutilScan, parse_stat

TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def stat_line(pid, name, cpu_ticks, start_ticks, rss_pages, state="S"):
    # proc(5): pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
    #          utime stime cutime cstime priority nice threads itrealvalue starttime vsize rss …
    fields = [state, 1, 1, 1, 0, -1, 0, 0, 0, 0, 0, cpu_ticks, 0, 0, 0, 20, 0, 1, 0,
              start_ticks, 1000, rss_pages, 0]
    return f"{pid} ({name}) " + " ".join(map(str, fields)) + "\n"


class CannedProc:
    """A /proc-like folder the test rewrites between samples."""

    def __init__(self, root):
        self.root = root
        root.mkdir(exist_ok=True)
        (root / "self").mkdir(exist_ok=True)

    def set(self, processes, io=None):
        for entry in self.root.iterdir():
            if entry.name.isdigit():
                for file in entry.iterdir():
                    file.unlink()
                entry.rmdir()
        for pid, (name, cpu_ticks, start, rss_pages, argv) in processes.items():
            folder = self.root / str(pid)
            folder.mkdir()
            (folder / "stat").write_text(stat_line(pid, name, cpu_ticks, start, rss_pages))
            (folder / "cmdline").write_bytes(b"\0".join(a.encode() for a in argv) + b"\0")
            if io and pid in io:
                read, written = io[pid]
                (folder / "io").write_text(f"rchar: 1\nwchar: 2\nsyscr: 3\nsyscw: 4\nread_bytes: {read}\n"
                                           f"write_bytes: {written}\ncancelled_write_bytes: 0\n")


@pytest.fixture
def proc(tmp_path):
    return CannedProc(tmp_path / "proc")


def test_parse_stat_with_spaces_and_parentheses_in_the_name():
    line = stat_line(42, "my (odd) name", cpu_ticks=250, start_ticks=900, rss_pages=3).encode()
    assert parse_stat(line) == ("my (odd) name", "S", 250, 900, 3)


def test_ranking_by_cpu_and_by_memory(proc):
    table = ProcessTable(top=2, scan=LinuxScan(str(proc.root)))
    layout = {
        10: ("idle-big", 0, 100, 50_000, ["/usr/bin/idle-big"]),
        11: ("busy-small", 0, 100, 10, ["busy-small", "--work"]),
        12: ("medium", 0, 100, 20_000, ["medium"]),
        13: ("tiny", 0, 100, 5, ["tiny"]),
    }
    proc.set(layout)
    first = table.snapshot(now=0.0)
    assert [p.pid for p in first] == [10, 12]  # no CPU figures yet: by memory only
    assert all(p.cpu is None for p in first)

    layout[11] = ("busy-small", 2 * TICKS, 100, 10, ["busy-small", "--work"])  # 2 CPU-seconds
    layout[13] = ("tiny", TICKS // 2, 100, 5, ["tiny"])
    proc.set(layout)
    second = table.snapshot(now=2.0)
    by_pid = {p.pid: p for p in second}
    assert set(by_pid) == {10, 11, 12, 13}  # top 2 by CPU (11, 13) and by memory (10, 12)
    assert [p.pid for p in second][:2] == [11, 13]
    assert by_pid[11].cpu == 100.0 and by_pid[13].cpu == 25.0
    assert by_pid[10].rss == 50_000 * PAGE
    assert by_pid[11].command == "busy-small --work"
    assert by_pid[11].user  # the owner of the canned folder


def test_reused_pid_is_a_new_process(proc):
    table = ProcessTable(top=5, scan=LinuxScan(str(proc.root)))
    proc.set({20: ("old", 10 * TICKS, 100, 10, ["old"])})
    table.snapshot(now=0.0)
    proc.set({20: ("new", 11 * TICKS, 5000, 10, ["new", "--fresh"])})  # same pid, later start
    (process,) = table.snapshot(now=1.0)
    assert process.name == "new" and process.command == "new --fresh"
    assert process.cpu is None  # not 100 %: the old process's CPU time is not this one's


def test_long_names_come_from_the_program_path(proc):
    table = ProcessTable(top=5, scan=LinuxScan(str(proc.root)))
    proc.set({30: ("gnome-shell-cal", 0, 1, 1, ["/usr/libexec/gnome-shell-calendar-server"])})
    (process,) = table.snapshot(now=0.0)
    assert process.name == "gnome-shell-calendar-server"


def test_a_process_that_exits_mid_scan_is_skipped(proc):
    proc.set({40: ("gone", 0, 1, 1, ["gone"]), 41: ("here", 0, 1, 2, ["here"])})
    (proc.root / "40" / "stat").unlink()
    table = ProcessTable(top=5, scan=LinuxScan(str(proc.root)))
    assert [p.pid for p in table.snapshot(now=0.0)] == [41]


@pytest.mark.parametrize("scan", [LinuxScan, PsutilScan])
def test_a_real_busy_child_appears_with_its_cpu_share_and_then_disappears(scan):
    child = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        watched = psutil.Process(child.pid)
        table = ProcessTable(top=10, scan=scan())
        table.snapshot()
        burned_before, started = sum(watched.cpu_times()[:2]), time.monotonic()
        # Three seconds: a scan on a loaded machine reads the child a few hundred ms after the
        # time it is stamped with, and over one second that skew alone was 30 points.
        time.sleep(3.0)
        found = {p.pid: p for p in table.snapshot()}
        # What it burned, measured apart: on a busy machine a spinning child gets less than a core.
        burned = (sum(watched.cpu_times()[:2]) - burned_before) / (time.monotonic() - started) * 100
        assert child.pid in found
        assert burned > 20  # it did run, so the comparison below means something
        assert found[child.pid].cpu == pytest.approx(burned, abs=15)
        assert "python" in found[child.pid].name
        assert "while True" in found[child.pid].command
    finally:
        child.kill()
        child.wait()
    assert child.pid not in {p.pid for p in table.snapshot()}


def test_disk_io_rates_for_the_top_processes(proc):
    table = ProcessTable(top=5, scan=LinuxScan(str(proc.root)))
    layout = {50: ("writer", 0, 1, 10, ["writer"]), 51: ("secret", 0, 1, 5, ["secret"])}
    proc.set(layout, io={50: (1000, 4096)})  # 51's io file is unreadable (another user's)
    first = {p.pid: p for p in table.snapshot(now=0.0)}
    assert first[50].disk_read is None and first[50].disk_write is None  # no rate from one reading
    proc.set(layout, io={50: (3000, 4096 + 2 * 8192)})
    second = {p.pid: p for p in table.snapshot(now=2.0)}
    assert second[50].disk_read == 1000.0 and second[50].disk_write == 8192.0
    assert second[51].disk_read is None
