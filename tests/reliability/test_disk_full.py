"""Disk full: the data directory on a small file system that fills up while collector and server run."""

from __future__ import annotations

import errno
import subprocess
import threading
import time

import pytest

from ..conftest import launch_server, wait_for
from .store import integrity, raw_samples

DROPPED = "samples are dropped until storing works again"
# One-point pushes on a full disk until one is refused: each commit takes a few WAL pages.
PUSHES_UNTIL_FULL = 5000
RECOVERED = "storing samples works again"


@pytest.fixture
def small_disk(tmp_path):
    """A 24 MiB tmpfs, unmounted after the test whatever happens."""
    mountpoint = tmp_path / "small"
    mountpoint.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m,mode=700", "tmpfs", str(mountpoint)],
                          capture_output=True, text=True)
    if done.returncode:
        pytest.skip(f"cannot mount a small file system here (root with CAP_SYS_ADMIN is needed): {done.stderr.strip()}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], capture_output=True)


def fill(path) -> int:
    """Write until the file system says it is full; returns the bytes written."""
    written = 0
    with open(path, "wb") as handle:
        try:
            while True:
                handle.write(b"\0" * 65536)
                handle.flush()
                written += 65536
        except OSError as error:
            assert error.errno == errno.ENOSPC
    return written


def test_a_full_disk_is_logged_once_survived_and_recovered_from(tmp_path, small_disk, tally):
    found = tally("Disk full")
    found.runs += 1
    data = small_disk / "data"
    server = launch_server(tmp_path, command="run", directory=data, interval=0.1)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(server.process.stderr), daemon=True)
    reader.start()
    database = data / "statsserver.db"
    accepted: list[float] = []
    try:
        with server.client() as client:
            def newest() -> float:
                return max((entry["time"] for labels in client.get("/api/latest").json()["values"].values()
                            for entry in labels.values()), default=0.0)

            wait_for(lambda: newest() > 0)
            time.sleep(1)
            before = raw_samples(database)
            fill(small_disk / "filler")
            wait_for(lambda: any(DROPPED in line for line in lines), timeout=30)
            # Full: the collector keeps going, the server keeps answering, from what is stored.
            stuck = newest()
            for _ in range(20):
                for path in ("/api/health", "/api/sources", "/api/series", "/api/latest"):
                    assert client.get(path).status_code == 200, path
                answer = client.get("/api/data", params={"from": time.time() - 60, "to": time.time(), "points": 100})
                assert answer.status_code == 200
                time.sleep(0.1)
            # A small commit may still fit in pages the WAL file already has; the pushes soon need
            # more. Each push is answered truly: stored (and kept, checked below), or refused with
            # a 503 that says why, which the pusher may send again later.
            first = time.time() - PUSHES_UNTIL_FULL - 60  # a second apart: none replaces another
            for value in range(1, PUSHES_UNTIL_FULL + 1):
                push = client.get("/add_data_point", params={"projectid": "p", "category": "c", "label": "l",
                                                              "value": str(value), "time": str(first + value)})
                if push.status_code != 200:
                    break
                accepted.append(float(value))
            assert push.status_code == 503 and "full" in push.json()["error"], push.text
            assert server.process.poll() is None
            (small_disk / "filler").unlink()
            wait_for(lambda: any(RECOVERED in line for line in lines), timeout=30)
            wait_for(lambda: newest() > stuck + 0.5, timeout=30)
            assert integrity(database) == "ok"
            pushed = client.get("/add_data_point", params={"projectid": "p", "category": "c", "label": "l", "value": "1"})
            assert pushed.status_code == 200, pushed.text
    finally:
        server.process.terminate()
        server.process.wait(timeout=30)
        reader.join(10)
    log = "".join(lines)
    assert server.process.returncode == 0, log
    assert log.count(DROPPED) == 1, log
    assert "Traceback" not in log, log
    assert integrity(database) == "ok"
    after = raw_samples(database)
    lost = sum(len(set(stored) - set(after[key])) for key, stored in before.items())
    lost += len(set(accepted) - {value for _, value in after.get(("p", "c", "l"), [])})
    found.lost += lost
    assert lost == 0
