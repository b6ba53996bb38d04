"""Process history in the store: head rows, compacted blocks, the minute tier, pid reuse, and
the migration of 0001's JSON snapshots."""

import json
import shutil
import sqlite3

import pytest

from statsserver.collectors.base import gauge
from statsserver.collectors.processes import Process
from statsserver.storage import Reader, StoreError, Writer
from statsserver.storage.migrations import MIGRATIONS, migrate

METRICS = {"cpu": gauge("%")}
T0 = 1_700_000_400.0  # on a 20-minute window boundary
DAY = 86400.0


def busy(second: int) -> list[Process]:
    """A canned machine: a steady daemon, a job that burns CPU from second 100 to 399, then its
    pid reused by another program from second 500, and a memory hog that comes and goes."""
    listed = [Process(100, "daemon", "root", 0.5, 50_000_000 + 4096 * (second % 7), "S", T0 - 3600,
                      "/usr/sbin/daemon --serve", 10.0, None)]
    if 100 <= second < 400:
        listed.append(Process(4242, "burner", "alice", 95.0 + second % 5, 8_000_000, "R", T0 + 99.5,
                              "burner --hard", None, 2048.0))
    if second >= 500:
        listed.append(Process(4242, "reused", "bob", 12.5, 3_000_000, "S", T0 + 499.5, "reused", None, None))
    if second % 3 == 0:
        listed.append(Process(7, "hog", "carol", 0.0, 900_000_000, "D", T0 - 7200, "hog", 0.0, 0.0))
    return listed


def fill(writer: Writer, seconds: int) -> None:
    for second in range(seconds):
        writer.write("pi", T0 + second, {"cpu": {"total": 10.0}}, METRICS, busy(second), interval=1.0)


@pytest.fixture
def path(tmp_path):
    return tmp_path / "store.db"


def as_stored(process: Process) -> dict:
    return {**process.as_dict(), "started": round(process.started, 3)}


def test_a_moment_lists_the_same_processes_before_and_after_compaction(path):
    writer = Writer(path)
    fill(writer, 1800)
    reader = Reader(path)
    moments = [T0 + s for s in (0, 150, 399, 450, 600, 1799)]
    before = [reader.processes_at("pi", t) for t in moments]
    assert writer.db.execute("SELECT count(*) FROM process_samples").fetchone()[0] > 0
    writer.maintain(T0 + 1800 + 120)
    assert writer.db.execute("SELECT count(*) FROM process_samples").fetchone()[0] == 0
    after = [reader.processes_at("pi", t) for t in moments]
    assert after == before
    for t, listed in zip(moments, after):
        second = int(t - T0)
        expected = sorted((as_stored(p) for p in busy(second)), key=lambda p: (p["cpu"] or 0, p["rss"]),
                          reverse=True)
        assert listed["processes"] == expected and listed["time"] == t and listed["tier"] == "raw"
    writer.close()


def test_a_reused_pid_is_another_process_with_its_own_history(path):
    writer = Writer(path)
    fill(writer, 1200)
    writer.maintain(T0 + 1200 + 120)
    reader = Reader(path)
    burner = reader.process_history("pi", 4242, T0 + 99.5, T0, T0 + 1200, 1200)
    reused = reader.process_history("pi", 4242, T0 + 499.5, T0, T0 + 1200, 1200)
    assert (burner["name"], burner["user"], burner["command"]) == ("burner", "alice", "burner --hard")
    assert reused["name"] == "reused"
    assert len(burner["times"]) == 300 and burner["times"][0] == pytest.approx(T0 + 100.5)
    assert burner["cpu"]["avg"][:5] == [95.0, 96.0, 97.0, 98.0, 99.0]
    assert min(reused["times"]) >= T0 + 500 and set(reused["cpu"]["avg"]) == {12.5}
    # The exited burner is still in the history of the moment it ran.
    names = [p["name"] for p in reader.processes_at("pi", T0 + 200)["processes"]]
    assert names[0] == "burner"
    assert reader.process_history("pi", 4242, T0 + 300, T0, T0 + 1200, 10) is None
    writer.close()


def test_history_is_reduced_to_the_asked_points(path):
    writer = Writer(path)
    fill(writer, 600)
    reader = Reader(path)
    history = reader.process_history("pi", 100, T0 - 3600, T0, T0 + 600, 10)
    assert len(history["times"]) == 10 and history["step"] == 60
    assert history["rss"]["min"][0] == 50_000_000 and history["rss"]["max"][0] == 50_000_000 + 6 * 4096
    assert history["cpu"]["avg"] == [0.5] * 10


def test_beyond_raw_retention_the_minute_tier_keeps_the_top_of_each_minute(path):
    writer = Writer(path)
    fill(writer, 1200)
    keep = {"keep_raw": DAY, "keep_minutes": 30 * DAY}
    writer.maintain(T0 + 1320, keep)
    writer.maintain(T0 + 3 * DAY, keep)  # raw has expired, minutes are kept
    kinds = dict(writer.db.execute("SELECT tier, count(*) FROM process_chunks GROUP BY tier").fetchall())
    assert kinds == {2: 1}
    reader = Reader(path)
    minute = reader.processes_at("pi", T0 + 150)
    assert minute["tier"] == "1m" and minute["time"] == T0 + 120
    by_name = {p["name"]: p for p in minute["processes"]}
    # The burner ran every second of that minute; the hog was listed one sample in three.
    assert by_name["burner"]["cpu"] == pytest.approx(97.0, abs=0.1)
    assert by_name["hog"]["rss"] == 900_000_000 and by_name["hog"]["cpu"] == 0.0
    assert set(by_name) == {"daemon", "burner", "hog"}
    history = reader.process_history("pi", 4242, T0 + 99.5, T0, T0 + 1200, 1200)
    assert history["tier"] == "1m"
    assert len(history["times"]) == 6  # seconds 100 to 399 touch six minutes
    assert history["times"][1] == T0 + 150 and history["cpu"]["avg"][1] == pytest.approx(97.0, abs=0.1)
    # The identities table lets go of processes no raw block lists; the minute blocks name them.
    assert writer.db.execute("SELECT count(*) FROM processes").fetchone()[0] == 0
    assert reader.processes_at("pi", T0 + 150) == minute
    assert reader.process_history("pi", 4242, T0 + 99.5, T0, T0 + 1200, 1200) == history
    assert reader.process_history("pi", 4242, T0 + 99.5, T0 + 1200, T0 + 2400, 10) is None  # not listed then
    writer.maintain(T0 + 40 * DAY, keep)
    assert writer.db.execute("SELECT count(*) FROM process_chunks").fetchone()[0] == 0
    writer.close()


class Crash(Exception):
    pass


def crash_after(step_name):
    def crash(step):
        if step == step_name:
            raise Crash
    return crash


def maintain_crashing(writer, now, step_name, keep=None) -> int:
    """Maintenance that dies after every step named `step_name`: each new run carries on."""
    crashes = 0
    while True:
        try:
            writer.maintain(now, keep, between_steps=crash_after(step_name))
            return crashes
        except Crash:
            crashes += 1


def test_a_crash_between_steps_loses_and_doubles_no_process_row(path, tmp_path):
    writer = Writer(path)
    fill(writer, 2500)
    writer.close()
    shutil.copy(path, tmp_path / "reference.db")
    reference = Writer(tmp_path / "reference.db")
    writer = Writer(path)
    keep = {"keep_raw": DAY, "keep_minutes": 30 * DAY}
    moments = [T0 + s for s in (5, 150, 450, 1300, 2400)]
    for now, step, crashes in ((T0 + 2500 + 120, "process window", 3), (T0 + 2 * DAY, "process minutes", 3)):
        reference.maintain(now, keep)
        assert maintain_crashing(writer, now, step, keep) == crashes  # three windows
        assert writer.db.execute("SELECT count(*) FROM process_samples").fetchone()[0] == 0
        for t in moments:
            assert Reader(path).processes_at("pi", t) == Reader(tmp_path / "reference.db").processes_at("pi", t)
        assert Reader(path).process_history("pi", 100, T0 - 3600, T0, T0 + 2500, 2500) == \
            Reader(tmp_path / "reference.db").process_history("pi", 100, T0 - 3600, T0, T0 + 2500, 2500)
    assert Reader(path).processes_at("pi", T0 + 150)["tier"] == "1m"
    writer.close()
    reference.close()


def test_0001_json_snapshots_are_converted_by_maintenance_without_loss(path):
    db = sqlite3.connect(path, isolation_level=None)
    migrate(db, MIGRATIONS[:1])
    db.execute("INSERT INTO sources (name, interval) VALUES ('pi', 1)")
    seconds = list(range(95, 105)) + list(range(1250, 1260))  # two windows
    snapshots = {second: [p.as_dict() for p in busy(second)] for second in seconds}
    snapshots[95][0].pop("disk_read")  # written before disk rates were collected
    snapshots[95][0].pop("disk_write")
    for second, listed in snapshots.items():
        db.execute("INSERT INTO process_snapshots VALUES (1, ?, ?)", (int((T0 + second) * 1000), json.dumps(listed)))
    db.execute("INSERT INTO process_snapshots VALUES (1, ?, 'not json')", (int((T0 + 200) * 1000),))
    db.close()
    writer = Writer(path)
    reader = Reader(path)

    def check(stage):
        for second, listed in snapshots.items():
            expected = sorted(({"disk_read": None, "disk_write": None, **p} for p in listed),
                              key=lambda p: (p["cpu"] or 0, p["rss"]), reverse=True)
            assert reader.processes_at("pi", T0 + second)["processes"] == expected, (stage, second)

    check("stored by 0001")
    assert maintain_crashing(writer, T0 + 3600, "process window") == 2  # a step per window
    check("converted")
    assert writer.db.execute("SELECT count(*) FROM process_snapshots").fetchone() == (0,)
    assert writer.db.execute("SELECT count(*) FROM process_samples").fetchone() == (0,)
    assert writer.db.execute("SELECT count(*) FROM processes WHERE pid = 4242").fetchone() == (2,)  # reused
    history = reader.process_history("pi", 4242, T0 + 99.5, T0, T0 + 3600, 3600)
    assert len(history["times"]) == 5 and T0 + 100 <= min(history["times"]) < max(history["times"]) < T0 + 105
    assert reader.process_history("pi", 4242, T0 + 499.5, T0, T0 + 3600, 3600)["name"] == "reused"
    writer.close()


def test_a_process_listed_again_after_its_identity_expired_is_stored_under_a_new_one(path):
    writer = Writer(path)
    daemon = busy(0)[0]
    writer.write("pi", T0, {}, {}, [daemon], interval=1.0)
    later = T0 + 2 * DAY
    writer.maintain(later, {"keep_raw": 3600, "keep_minutes": 30 * DAY})
    assert writer.db.execute("SELECT count(*) FROM processes").fetchone() == (0,)
    writer.write("pi", later, {}, {}, [daemon], interval=1.0)  # the writer remembers the old id
    assert [p["name"] for p in Reader(path).processes_at("pi", later)["processes"]] == ["daemon"]
    writer.close()


def test_a_damaged_process_block_is_one_clear_error(path):
    writer = Writer(path)
    fill(writer, 300)
    writer.maintain(T0 + 420)
    writer.db.execute("UPDATE process_chunks SET data = x'00010203'")
    with pytest.raises(StoreError, match="corrupt"):
        Reader(path).processes_at("pi", T0 + 10)
    fill(writer, 360)  # more rows for the same window: maintenance must read the damaged block
    with pytest.raises(StoreError, match="maintenance failed: .*corrupt"):
        writer.maintain(T0 + 480)
    writer.close()


def test_no_processes_at_a_moment_without_a_list(path):
    writer = Writer(path)
    writer.write("pi", T0, {"cpu": {"total": 1.0}}, METRICS, [], interval=1.0)
    reader = Reader(path)
    assert reader.processes_at("pi", T0) == {"time": None, "tier": None, "processes": []}
    assert reader.processes_at("nobody", T0)["processes"] == []
    writer.close()
