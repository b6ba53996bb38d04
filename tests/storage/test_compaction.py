"""Compaction, rollups, retention and planning, checked against brute force on real files."""

import math
import sqlite3
import threading
from collections import defaultdict

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from statsserver.collectors.base import gauge
from statsserver.storage import Reader, StoreError, Writer
from statsserver.storage.migrations import MIGRATIONS, migrate
from statsserver.storage.planner import Plan, finest_tier_for
from statsserver.storage.tiers import BY_NUMBER, DAY, HOUR, RAW, TIERS

METRICS = {"cpu": gauge("%"), "load": gauge("")}
T0 = 1_699_999_200.0  # on a whole hour
SOURCE = "host"


def store(path, points, interval=1.0):
    writer = Writer(path)
    writer.source_id(SOURCE, interval)
    writer.write_points(SOURCE, points, METRICS)
    return writer


def brute_force(points, plan_, low, high):
    """{bucket index: (min, avg, max)} straight from the points, per (category, label).

    A rollup tier answers whole buckets of its grid: the range widens to them."""
    if plan_.tier is not RAW:
        low, high = plan_.origin, plan_.end
    buckets = defaultdict(lambda: defaultdict(list))
    for category, label, time, value in points:
        ms = round(time * 1000)
        if low <= ms < high:
            buckets[category, label][(ms - plan_.origin) // plan_.width].append(value)
    return {key: {b: (min(v), sum(v) / len(v), max(v)) for b, v in found.items()}
            for key, found in buckets.items()}


def answered(result):
    """{(category, label): {bucket index: (min, avg, max)}} for the non-null buckets of a query."""
    origin_ms = round((result["times"][0] - result["step"] / 2) * 1000) if result["times"] else 0
    found = {}
    for series in result["series"]:
        entries = {}
        for time, low, mean, high in zip(result["times"], series["min"], series["avg"], series["max"]):
            if mean is not None:
                entries[time] = (low, mean, high)
        found[series["category"], series["label"]] = entries
    return found, origin_ms


def assert_matches(result, points, low, high, tier, interval_ms=1000):
    width = round(result["step"] * 1000)
    origin = low if tier is RAW else low - low % tier.step_ms
    expected_plan = Plan(tier, origin, width, math.ceil((high - origin) / width))
    assert expected_plan.count <= max(2, 2 * math.ceil((high - low) / width))
    expected = brute_force(points, expected_plan, low, high)
    found, _ = answered(result)
    asked = {(s["category"], s["label"]) for s in result["series"]}
    assert asked
    for key, buckets in expected.items():
        if key not in asked:
            continue
        got = {round((t * 1000 - expected_plan.origin) / expected_plan.width - 0.5): v
               for t, v in found.get(key, {}).items()}
        assert set(got) == set(buckets), key
        for bucket, (low_value, mean, high_value) in buckets.items():
            # Values are kept to the series' precision: 0.1 for % (0.001 or finer for load).
            assert got[bucket][0] == pytest.approx(low_value, abs=0.051)
            assert got[bucket][2] == pytest.approx(high_value, abs=0.051)
            assert got[bucket][1] == pytest.approx(mean, abs=0.051)


random_points = st.lists(
    st.tuples(st.sampled_from([("cpu", "total"), ("cpu", "core0"), ("load", "1m")]),
              st.integers(0, 4 * 3600),  # seconds after T0: several raw windows and rollup chunks
              st.floats(0, 100, allow_nan=False)),
    min_size=1, max_size=300)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=random_points, split=st.integers(0, 5 * 3600), tier_number=st.sampled_from([0, 1, 2, 3, 4]),
       points=st.integers(1, 400), offset=st.integers(0, 3600), length=st.integers(60, 4 * 3600))
def test_every_tier_answers_like_brute_force_before_and_after_compaction(
        tmp_path_factory, raw, split, tier_number, points, offset, length):
    unique = {}
    for (category, label), second, value in raw:
        unique[category, label, T0 + second] = value  # one value per series and time
    data = [(c, l, t, v) for (c, l, t), v in unique.items()]
    path = tmp_path_factory.mktemp("db") / "store.db"
    writer = store(path, data)
    try:
        writer.maintain(T0 + split)  # part compacted, part still in the head
        tier = BY_NUMBER[tier_number]
        low, high = round((T0 + offset) * 1000), round((T0 + offset + length) * 1000)
        result = Reader(path).query(SOURCE, low / 1000, high / 1000, points, tier=tier.name)
        assert result["tier"] == tier.name and len(result["times"]) <= 2 * points
        assert_matches(result, data, low, high, tier)
        writer.maintain(T0 + DAY / 1000)  # everything compacted, nothing expired yet
        result = Reader(path).query(SOURCE, low / 1000, high / 1000, points, tier=tier.name)
        assert_matches(result, data, low, high, tier)
    finally:
        writer.close()


def steady(seconds, start=T0, step=1.0, skip=()):
    points = []
    for i in range(int(seconds / step)):
        t = start + i * step
        if not any(a <= t < b for a, b in skip):
            points.append(("cpu", "total", t, float(i % 50)))
            points.append(("load", "1m", t, 0.05 + (i % 7) / 100))
    return points


def test_a_gap_stays_a_gap_in_every_tier(tmp_path):
    path = tmp_path / "store.db"
    data = steady(6 * 3600, step=5.0, skip=[(T0 + 2 * 3600, T0 + 3 * 3600)])
    writer = store(path, data, interval=5.0)
    writer.maintain(T0 + DAY / 1000)
    reader = Reader(path)
    for tier in ("raw", "10s", "1m", "5m"):
        result = reader.query(SOURCE, T0, T0 + 6 * 3600, 100, categories=["cpu"], tier=tier)
        avg = result["series"][0]["avg"]
        step, times = result["step"], result["times"]
        gap_start, gap_end = T0 + 2 * 3600, T0 + 3 * 3600
        # No value drawn inside the hole, and a null that breaks the line across it.
        assert not [v for t, v in zip(times, avg) if gap_start + step / 2 <= t <= gap_end - step / 2 and v is not None]
        assert any(v is None and gap_start - step <= t <= gap_end + step for t, v in zip(times, avg)), tier
        assert sum(v is not None for v in avg) >= 60, tier
    writer.close()


def test_small_values_survive_quantisation(tmp_path):
    path = tmp_path / "store.db"
    writer = store(path, [("load", "1m", T0 + i, 0.05) for i in range(1200)] +
                   [("load", "tiny", T0 + i, 3e-6 * (1 + i % 3)) for i in range(1200)])
    writer.maintain(T0 + 3600)
    assert writer.db.execute("SELECT count(*) FROM head").fetchone() == (0,)
    result = Reader(path).query(SOURCE, T0, T0 + 1200, 10, tier="raw")
    by_label = {s["label"]: s for s in result["series"]}
    assert by_label["1m"]["avg"] == pytest.approx([0.05] * 10)
    assert by_label["tiny"]["min"] == pytest.approx([3e-6] * 10) and by_label["tiny"]["max"] == pytest.approx([9e-6] * 10)
    writer.close()


def test_planner_reads_the_coarsest_tier_that_gives_the_points(tmp_path):
    assert finest_tier_for(0, HOUR, 1000) is RAW
    assert finest_tier_for(0, DAY, 1000).name == "1m"
    assert finest_tier_for(0, 30 * DAY, 1000).name == "30m"
    assert finest_tier_for(0, 365 * DAY, 1000).name == "8h"
    assert finest_tier_for(0, 6 * HOUR, 1000).name == "10s"
    path = tmp_path / "store.db"
    writer = store(path, steady(2 * 86400, step=30.0), interval=30.0)
    writer.maintain(T0 + 3 * 86400)
    reader = Reader(path)
    for length, points, tier in [(3600, 1000, "raw"), (3600, 100, "10s"), (86400, 1000, "1m"), (2 * 86400, 100, "5m"), (2 * 86400, 90, "30m")]:
        result = reader.query(SOURCE, T0, T0 + length, points, categories=["cpu"])
        assert result["tier"] == tier and len(result["times"]) <= points
        assert_matches(result, steady(2 * 86400, step=30.0), round(T0 * 1000), round((T0 + length) * 1000),
                       BY_NUMBER[[t.name for t in TIERS].index(tier)], interval_ms=30_000)
    writer.close()



def test_planner_reads_a_finer_tier_where_the_coarser_one_holds_nothing_yet(tmp_path):
    """The tier a range asks for is chosen by the blocks it reads; with none there, by a probe of
    its unpacked rollups and the head, and then by the finer tiers'."""
    path = tmp_path / "store.db"
    writer = store(path, steady(2 * 3600), interval=1.0)  # two hours, all in the head
    reader = Reader(path)
    assert reader.query(SOURCE, T0, T0 + 2 * 3600, 100, categories=["cpu"])["tier"] == "raw"
    writer.maintain(T0 + 2 * 3600 + 60)  # blocks and rollups now
    assert reader.query(SOURCE, T0, T0 + 2 * 3600, 100, categories=["cpu"])["tier"] == "1m"
    writer.write_points(SOURCE, [("cpu", "total", T0 + 3 * 86400 + 5, 1.0)], METRICS)
    writer.settle()
    writer.maintain(T0 + 3 * 86400 + 600)  # compacted: a raw block, and its buckets waiting in rollups
    later = reader.query(SOURCE, T0 + 3 * 86400, T0 + 3 * 86400 + 3600, 30, categories=["cpu"])
    assert later["tier"] == "1m" and later["series"][0]["max"] == [1.0]
    writer.close()

EXPIRED_NOW = T0 + 3 * 86400


@pytest.fixture
def raw_expired(tmp_path):
    """Three days at one a minute, raw kept for the last day only: the first two are rollups."""
    path = tmp_path / "store.db"
    writer = store(path, steady(3 * 86400, step=60.0), interval=60.0)
    writer.maintain(EXPIRED_NOW, keep={"keep_raw": 86400})
    yield path
    writer.close()


def test_planner_falls_back_to_a_coarser_tier_where_the_finer_one_expired(raw_expired):
    path, now = raw_expired, EXPIRED_NOW
    old = Reader(path).query(SOURCE, T0, T0 + 3600, 60, categories=["cpu"])  # raw and 10 s are gone
    assert old["tier"] == "1m" and old["series"][0]["avg"][0] == 0.0
    recent = Reader(path).query(SOURCE, now - 3600, now, 1000, categories=["cpu"])
    assert recent["tier"] == "raw"


def tier_spans(db):
    """{tier name: (oldest time, newest end)} over chunks and unpacked rollup buckets."""
    spans = {BY_NUMBER[tier].name: [low, high] for tier, low, high in
             db.execute("SELECT tier, min(start), max(end) FROM chunks GROUP BY tier")}
    for tier, low in db.execute("SELECT tier, min(start) FROM rollups GROUP BY tier"):
        name = BY_NUMBER[tier].name
        spans[name] = [min(spans.get(name, [low])[0], low), spans.get(name, [0, low])[1]]
    return spans


def test_retention_at_each_tier_is_chunk_granular(tmp_path):
    path = tmp_path / "store.db"
    days = 12
    writer = store(path, steady(days * 86400, step=60.0), interval=60.0)
    now = T0 + days * 86400
    keep = {"keep_raw": 86400, "keep_minutes": 3 * 86400, "keep_hours": 8 * 86400}
    writer.maintain(now, keep=keep)
    spans = tier_spans(writer.db)
    for tier in TIERS:
        kept = keep[tier.keep] * 1000
        oldest = spans[tier.name][0]
        # Whole chunks go once they end before the cutoff; none that still holds kept data.
        assert now * 1000 - kept - tier.span_ms < oldest <= now * 1000 - kept, tier.name
    assert writer.db.execute("SELECT min(start) FROM windows").fetchone()[0] >= (now - 86400) * 1000 - RAW.span_ms
    # max_age caps every tier.
    writer.maintain(now, keep=keep, max_age=2 * 86400)
    spans = tier_spans(writer.db)
    for tier in TIERS:
        kept = min(keep[tier.keep], 2 * 86400) * 1000
        assert spans[tier.name][0] > now * 1000 - kept - tier.span_ms, tier.name
    writer.close()


def test_file_size_stops_growing_at_steady_state(tmp_path):
    path = tmp_path / "store.db"
    writer = Writer(path)
    writer.source_id(SOURCE, 10.0)
    keep = {"keep_raw": 6 * 3600, "keep_minutes": 86400, "keep_hours": 2 * 86400}
    sizes = []
    for day in range(8):
        start = T0 + day * 86400
        writer.write_points(SOURCE, steady(86400, start=start, step=10.0), METRICS)
        writer.maintain(start + 86400, keep=keep)
        writer.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        sizes.append(path.stat().st_size)
    assert sizes[-1] <= max(sizes[3:6]) * 1.05, sizes
    writer.close()


class Crash(Exception):
    pass


def test_a_crash_between_compaction_steps_loses_and_doubles_nothing(tmp_path):
    data = steady(3 * 3600, step=2.0)
    now = T0 + 4 * 3600
    reference_path = tmp_path / "reference.db"
    reference = store(reference_path, data, interval=2.0)
    steps = []
    reference.maintain(now, between_steps=steps.append)
    assert len(steps) > 10
    expected = {tier.name: Reader(reference_path).query(SOURCE, T0, now, 300, tier=tier.name) for tier in TIERS}
    reference.close()
    for crash_after in range(1, len(steps), 3):
        path = tmp_path / f"crash{crash_after}.db"
        writer = store(path, data, interval=2.0)
        done = []

        def crash(step):
            done.append(step)
            if len(done) == crash_after:
                raise Crash(step)

        with pytest.raises(Crash):
            writer.maintain(now, between_steps=crash)
        writer.close()
        writer = Writer(path)  # a new process picks up where the last one died
        writer.maintain(now)
        writer.close()
        for tier in TIERS:
            got = Reader(path).query(SOURCE, T0, now, 300, tier=tier.name)
            assert got == expected[tier.name], (crash_after, tier.name)
        # Each sample counted exactly once in the finest rollup tier.
        counts = Reader(path).query(SOURCE, T0, now, 1, tier="10s")
        assert counts["series"][0]["avg"] is not None


def test_an_exception_inside_a_step_rolls_the_step_back(tmp_path):
    path = tmp_path / "store.db"
    writer = store(path, steady(1800, step=1.0))
    before = writer.db.execute("SELECT count(*) FROM head").fetchone()[0]
    original = writer.db

    class Failing:
        """Lets reads through, fails the chunk insert: the middle of a compaction step."""
        def __getattr__(self, name):
            return getattr(original, name)

        def executemany(self, sql, rows):
            if "INSERT INTO chunks" in sql:
                raise sqlite3.OperationalError("disk I/O error")
            return original.executemany(sql, rows)

    writer.db = Failing()
    with pytest.raises(Exception, match="disk I/O error"):
        writer.maintain(T0 + 3600)
    writer.db = original
    assert writer.db.execute("SELECT count(*) FROM head").fetchone()[0] == before
    assert writer.db.execute("SELECT count(*) FROM rollups").fetchone()[0] == 0
    writer.maintain(T0 + 3600)
    assert writer.db.execute("SELECT count(*) FROM head").fetchone()[0] == 0
    writer.close()


def test_categories_asked_together_answer_as_each_alone(tmp_path):
    # A window's blocks of several categories are folded as one matrix: no row may take another's
    # values, whether a category misses samples or not, in the windows and in the head.
    points = []
    for second in range(0, 3 * 3600, 2):
        points.append(("cpu", "total", T0 + second, float(second % 97)))
        points.append(("cpu", "core0", T0 + second, 50.0 + second % 13))
        if second % 300:  # load misses a sample now and then
            points.append(("load", "1m", T0 + second, second % 7 / 4))
    writer = store(tmp_path / "s.db", points, interval=2.0)
    while not writer.maintain(T0 + 3 * 3600 - 600).finished:
        pass
    reader = Reader(tmp_path / "s.db")
    for points_asked in (100, 1000, 5000):
        for low, high in ((T0, T0 + 3 * 3600), (T0 + 1000.5, T0 + 2 * 3600 + 17)):
            together = reader.query(SOURCE, low, high, points_asked, tier="raw")
            assert together["tier"] == "raw" and len(together["series"]) == 3
            for category in ("cpu", "load"):
                alone = reader.query(SOURCE, low, high, points_asked, [category], tier="raw")
                for series in alone["series"]:
                    same = next(s for s in together["series"] if s["label"] == series["label"])
                    assert by_time(alone, series) == by_time(together, same)
    writer.close()


def by_time(result, series):
    return {time: values for time, *values in zip(result["times"], series["min"], series["avg"], series["max"])
            if values[1] is not None}


def test_a_rollup_run_kept_whole_folds_as_its_range_read_alone(tmp_path):
    # A chart's blocks and tail are joined whole once per commit and each query folds its range of
    # them: every cell as the range's own blocks give it, to the last bit (the order of the sums
    # included), with a gap, a tail after the blocks and late points in it.
    import random
    import numpy as np
    from statsserver.storage.planner import plan
    from statsserver.storage.tiers import ROLLUPS
    rng = random.Random(3)
    points = [(c, label, t, rng.random() * 100) for c, label, t, _ in
              steady(2 * DAY // 1000, step=10.0, skip=[(T0 + 30000, T0 + 40000)])]
    writer = store(tmp_path / "s.db", points, interval=10.0)
    while not writer.maintain(T0 + 2 * DAY // 1000 - 3000).finished:
        pass
    reader = Reader(tmp_path / "s.db")
    ranged = Reader(tmp_path / "s.db")
    kept = ranged.kept
    ranged.kept = lambda key, read: None if key[0] == "rollup runs" else kept(key, read)

    def cells(reader, tier, low, high, points, categories):
        reader._rows("BEGIN")
        try:
            selected, _, groups, layout = reader._selection(reader.catalog(), SOURCE, categories)
            chart = plan(tier, low, high, points, 10_000)
            output = layout.fresh()
            reader._fold_rollups(tier, reader._blocks(tier, 1, groups, low, high, chart), chart, output)
            return output.cells()
        finally:
            reader._rows("COMMIT")

    for late in (False, True):
        ranges = [(round((T0 + rng.random() * 2 * DAY / 1000) * 1000), rng.choice([3600_000, 6 * 3600_000, DAY]),
                   rng.choice([10, 100, 300, 1000]), rng.choice([["cpu"], None])) for _ in range(25)]
        if late:  # in the gap: a range that ends in it has the tail follow its blocks, the whole run not
            late_points = [("cpu", "total", T0 + 30005.5 + 10 * i, 1 / 3 + i / 7) for i in range(30)]
            writer.write_points(SOURCE, late_points, METRICS)
            ranges += [(round((T0 + end) * 1000) - span, span, points, ["cpu"])
                       for end in (30050, 30100, 30300) for span in (3600_000, 6 * 3600_000) for points in (100, 300)]
        for tier in ROLLUPS[:3]:
            for low, span, points, categories in ranges:
                high = low + span
                (buckets, found), (expected_buckets, expected) = (cells(r, tier, low, high, points, categories)
                                                                  for r in (reader, ranged))
                assert np.array_equal(buckets, expected_buckets)
                assert found.tobytes() == expected.tobytes(), (tier.name, low, high, points)
    writer.close()


def test_late_points_merge_into_compacted_windows_without_doubling(tmp_path):
    path = tmp_path / "store.db"
    data = steady(1200, step=1.0)
    writer = store(path, data)
    writer.maintain(T0 + 3600)
    # A late sample in a compacted window, and a rewrite of a stored time.
    writer.write_points(SOURCE, [("cpu", "total", T0 + 10.5, 99.0), ("cpu", "total", T0 + 20, 40.0)], METRICS)
    writer.maintain(T0 + 3600)
    reader = Reader(path)
    raw = reader.query(SOURCE, T0, T0 + 30, 30, categories=["cpu"], tier="raw")
    assert raw["series"][0]["max"][10] == 99.0 and raw["series"][0]["avg"][20] == 40.0
    minute = reader.query(SOURCE, T0, T0 + 60, 1, categories=["cpu"], tier="1m")
    values = [i % 50 for i in range(60)]
    values[20] = 40
    assert minute["series"][0]["avg"][0] == pytest.approx((sum(values) + 99) / 61, abs=0.05)  # kept to 0.1
    assert reader.moment(SOURCE, T0 + 10.5)["values"]["cpu"]["total"]["value"] == 99.0
    writer.close()


def test_moment_falls_back_to_the_finest_rollup(raw_expired):
    now = EXPIRED_NOW
    reader = Reader(raw_expired)
    old = reader.moment(SOURCE, T0 + 125)
    assert old["values"]["cpu"]["total"] == {"time": T0 + 150, "value": 2.0}  # the 1 m bucket
    recent = reader.moment(SOURCE, now - 60)
    assert recent["values"]["cpu"]["total"]["time"] == now - 60
    assert reader.latest(SOURCE)["cpu"]["total"] == (now - 60, float((3 * 1440 - 1) % 50))


def test_bad_values_are_left_out_and_never_crash(tmp_path):
    path = tmp_path / "store.db"
    writer = store(path, [("cpu", "total", T0, float("nan")), ("cpu", "total", T0 + 1, float("inf")),
                          ("cpu", "total", T0 + 2, None), ("cpu", "total", T0 + 3, "7.5"),
                          ("cpu", "total", float("nan"), 1.0), ("cpu", "total", T0 + 4, 1e300)])
    writer.maintain(T0 + 3600)
    result = Reader(path).query(SOURCE, T0, T0 + 5, 5, tier="raw")
    assert result["series"][0]["avg"] == [7.5, 1e300]
    writer.close()


def test_a_0001_database_migrates_and_keeps_its_samples(tmp_path):
    path = tmp_path / "old.db"
    db = sqlite3.connect(path, isolation_level=None)
    migrate(db, MIGRATIONS[:1])
    db.execute("INSERT INTO sources (name, interval) VALUES ('pi', 1)")
    db.execute("INSERT INTO series (source_id, category, label, unit) VALUES (1, 'cpu', 'total', '%')")
    db.executemany("INSERT INTO samples VALUES (1, ?, ?)",
                   [(int(T0 * 1000) + i * 1000, float(i % 100) / 4) for i in range(7200)])
    db.execute("INSERT INTO process_snapshots VALUES (1, ?, '[{\"pid\": 1}]')", (int(T0 * 1000) + 5000,))
    db.close()
    before = None
    writer = Writer(path)
    assert [name for (name,) in writer.db.execute("SELECT name FROM migrations")] == [n for n, _ in MIGRATIONS]
    before = Reader(path).query("pi", T0, T0 + 7200, 120)
    writer.maintain(T0 + 7200 + 3600)
    writer.close()
    after = Reader(path).query("pi", T0, T0 + 7200, 120, tier="raw")
    assert after["series"][0]["avg"] == before["series"][0]["avg"]
    assert sum(x is not None for x in after["series"][0]["avg"]) == 120
    assert [p["pid"] for p in Reader(path).moment("pi", T0 + 5)["processes"]] == [1]


def test_a_second_process_appends_while_maintenance_runs(tmp_path):
    path = tmp_path / "store.db"
    collector = Writer(path)
    maintainer = Writer(path)
    errors = []
    written = 3000

    def collect():
        try:
            for i in range(written):
                collector.write(SOURCE, T0 + i, {"cpu": {"total": float(i % 10)}}, METRICS, interval=1.0)
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    thread = threading.Thread(target=collect)
    thread.start()
    while thread.is_alive():
        maintainer.maintain(T0 + written)
    thread.join()
    maintainer.maintain(T0 + written + 3600)
    assert not errors
    result = Reader(path).query(SOURCE, T0, T0 + written, 1, tier="10s")
    series = result["series"][0]
    assert series["avg"][0] == pytest.approx(4.5) and series["max"][0] == 9.0
    minute_counts = Reader(path).query(SOURCE, T0, T0 + written, written, tier="raw")
    assert sum(v is not None for v in minute_counts["series"][0]["avg"]) == written
    collector.close()
    maintainer.close()


def test_a_damaged_block_is_one_clear_error_not_a_crash(tmp_path):
    path = tmp_path / "store.db"
    writer = store(path, steady(1200, step=1.0))
    writer.maintain(T0 + 3600)
    writer.db.execute("UPDATE chunks SET data = x'789c0300000000' WHERE tier = 0")  # not a block
    with pytest.raises(StoreError, match=rf"^{path}: corrupt"):
        Reader(path).query(SOURCE, T0, T0 + 1200, 100, tier="raw")
    writer.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(samples=st.dictionaries(st.tuples(st.integers(1, 4), st.integers(0, 4 * 3600 * 1000)),
                               st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=400),
       replacing=st.lists(st.booleans(), max_size=400))
def test_rollup_buckets_hold_what_brute_force_gives(tmp_path_factory, samples, replacing):
    from statsserver.storage import compaction
    from statsserver.storage.tiers import ROLLUPS

    rows = sorted((series, at, value) for (series, at), value in samples.items())
    # Some rows replace a sample already compacted: their old value leaves the sum, and they
    # are not counted again.
    replaced = defaultdict(dict)
    for (series, at, value), replaces in zip(rows, replacing):
        if replaces:
            replaced[series][at] = value / 3 + 1
    writer = Writer(tmp_path_factory.mktemp("db") / "store.db")
    try:
        maintenance = compaction.Maintenance(writer.db, writer._transaction, {}, 0)
        with writer._transaction("the test's rollups"):
            maintenance._add_to_rollups(maintenance._rollup_rows(rows, dict(replaced)))
        stored = {(tier, series, start): rest for tier, series, start, *rest in
                  writer.db.execute("SELECT tier, series_id, start, min, max, sum, count FROM rollups")}
    finally:
        writer.close()
    expected = {}
    for tier in ROLLUPS:
        for series, at, value in rows:
            old = replaced[series].get(at)
            low, high, total, count = expected.get((tier.number, series, at - at % tier.step_ms),
                                                   (value, value, 0.0, 0))
            expected[tier.number, series, at - at % tier.step_ms] = (
                min(low, value), max(high, value), total + (value if old is None else value - old),
                count + (old is None))
    assert stored.keys() == expected.keys()
    for key, (low, high, total, count) in expected.items():
        assert stored[key][0] == low and stored[key][1] == high and stored[key][3] == count, key
        assert stored[key][2] == pytest.approx(total, rel=1e-9, abs=1e-6), key


def _write_during_the_read(monkeypatch, path, points):
    """Maintenance of `path`, whose first window, once read and folded (outside the write lock),
    sees `points` written by another writer that does not wait for any lock; how many times
    windows were read."""
    from statsserver.storage import compaction

    pusher, reads = Writer(path), []
    read = compaction.Maintenance._window_work

    def window_work(self, *arguments):
        work = read(self, *arguments)
        if not reads:
            pusher.db.execute("PRAGMA busy_timeout = 0")  # a held write lock fails it at once
            for _, label, at, value in points:  # as a collector writes: straight into the samples
                pusher.write(SOURCE, at, {"cpu": {label: value}}, METRICS)
        reads.append(arguments[2])
        return work

    monkeypatch.setattr(compaction.Maintenance, "_window_work", window_work)
    return pusher, reads


def test_a_window_is_read_without_the_write_lock_and_late_points_written_meanwhile_count(tmp_path, monkeypatch):
    path = tmp_path / "store.db"
    writer = store(path, steady(1200, step=1.0))
    # A new value for a stored time while the window is folded: the window's rows are as many
    # as before, and only the late writes' count tells.
    pusher, reads = _write_during_the_read(monkeypatch, path, [("cpu", "total", T0 + 20, 40.0)])
    try:
        writer.maintain(T0 + 3600)
        assert reads[0] == reads[1]  # the first window read again, under the lock
        reader = Reader(path)
        raw = reader.query(SOURCE, T0, T0 + 30, 30, categories=["cpu"], tier="raw")
        assert raw["series"][0]["avg"][20] == 40.0
        minute = reader.query(SOURCE, T0, T0 + 60, 1, categories=["cpu"], tier="1m")
        values = [i % 50 for i in range(60)]
        values[20] = 40
        assert minute["series"][0]["avg"][0] == pytest.approx(sum(values) / 60, abs=0.05)
    finally:
        pusher.close()
        writer.close()


def test_a_row_written_into_a_window_being_read_is_not_lost_even_if_not_counted_late(tmp_path, monkeypatch):
    from statsserver.storage import compaction

    monkeypatch.setattr(compaction, "LATE_WRITE_MS", 10**15)  # as if the writer's clock had stepped back
    path = tmp_path / "store.db"
    writer = store(path, steady(1200, step=1.0))
    pusher, reads = _write_during_the_read(monkeypatch, path, [("cpu", "total", T0 + 10.5, 99.0)])
    try:
        writer.maintain(T0 + 3600)
        assert reads[0] == reads[1]  # the window's rows told: read again under the lock
        raw = Reader(path).query(SOURCE, T0, T0 + 30, 30, categories=["cpu"], tier="raw")
        assert raw["series"][0]["max"][10] == 99.0
    finally:
        pusher.close()
        writer.close()


def test_rollups_are_packed_without_the_write_lock_and_a_change_meanwhile_is_packed_too(tmp_path, monkeypatch):
    from statsserver.storage import compaction

    path = tmp_path / "store.db"
    writer = store(path, steady(1200, step=1.0))
    other, packed = Writer(path), []
    (series_id,) = writer.db.execute("SELECT id FROM series WHERE category = 'cpu' AND label = 'total'").fetchone()
    build = compaction.Maintenance._rollup_blocks

    def rollup_blocks(self, tier, window, last_bucket):
        blocks = build(self, tier, window, last_bucket)
        if not packed:
            packed.append((tier, window))
            other.db.execute("PRAGMA busy_timeout = 0")  # a held write lock fails it at once
            other.write(SOURCE, T0 + 5000, {"cpu": {"total": 1.0}}, METRICS)
            # What a second maintainer would do meanwhile: add to a bucket being packed.
            with other._transaction("a test's rollup"):
                other.db.execute(compaction._UPSERT_ROLLUPS.format("(?, ?, ?, ?, ?, ?, ?)"), (tier.number, series_id, window, 1000.0, 1000.0, 1000.0, 1))
        return blocks

    monkeypatch.setattr(compaction.Maintenance, "_rollup_blocks", rollup_blocks)
    try:
        writer.maintain(T0 + DAY / 1000)
        [(tier, window)] = packed
        assert writer.db.execute("SELECT count(*) FROM rollups WHERE tier = ? AND start = ?",
                                 (tier.number, window)).fetchone() == (0,)
        bucket = Reader(path).query(SOURCE, window / 1000, (window + tier.step_ms) / 1000, 1,
                                    categories=["cpu"], tier=tier.name)["series"][0]
        assert bucket["max"] == [1000.0]  # in the block, as packed again under the lock
    finally:
        other.close()
        writer.close()
