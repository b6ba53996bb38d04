import sqlite3
import threading

import pytest

from statsserver.collectors.base import counter, gauge
from statsserver.collectors.processes import Process
from statsserver.storage import Reader, StoreError, Writer
from statsserver.storage.reader import DECODED

PERCENT = {"cpu": gauge("%"), "network.eth0": counter("B/s"), "disk_free": gauge("B", graph=False)}
T0 = 1_700_000_000.0


@pytest.fixture
def path(tmp_path):
    return tmp_path / "data" / "store.db"


@pytest.fixture
def writer(path):
    writer = Writer(path)
    yield writer
    writer.close()


def fill(writer, seconds, start=T0, step=1.0, source="host", interval=1.0, skip=()):
    for i in range(int(seconds / step)):
        t = start + i * step
        if any(low <= t < high for low, high in skip):
            continue
        writer.write(source, t, {"cpu": {"total": i % 100, "core0": 50.0}}, PERCENT, interval=interval)


def test_wal_mode_and_catalog_with_metadata(writer, path):
    writer.write("host", T0, {"cpu": {"total": 5.0}, "disk_free": {"/": 1e9},
                              "network.eth0": {"received": 10.0}}, PERCENT, interval=1.0)
    assert writer.db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    reader = Reader(path)
    assert reader.sources() == [{"name": "host", "interval": 1.0}]
    catalog = {(s.category, s.label): s for s in reader.series("host")}
    assert catalog["disk_free", "/"].graph is False and catalog["disk_free", "/"].unit == "B"
    assert catalog["network.eth0", "received"].kind == "counter"
    assert [s.label for s in reader.series("host", ["cpu"])] == ["total"]


def test_latest(writer, path):
    fill(writer, 10)
    assert Reader(path).latest("host") == {"cpu": {"total": (T0 + 9, 9.0), "core0": (T0 + 9, 50.0)}}


def test_moment_takes_the_nearest_sample_and_its_processes(writer, path):
    processes = [Process(1, "init", "root", 0.5, 1000, "S", T0 - 100, "/sbin/init")]
    writer.write("host", T0, {"cpu": {"total": 1.0}}, PERCENT, processes, interval=1.0)
    writer.write("host", T0 + 1, {"cpu": {"total": 2.0}}, PERCENT, interval=1.0)
    reader = Reader(path)
    moment = reader.moment("host", T0 + 0.7)
    assert moment["values"] == {"cpu": {"total": {"time": T0 + 1, "value": 2.0}}}
    assert reader.moment("host", T0 + 0.2)["values"]["cpu"]["total"]["value"] == 1.0
    assert moment["processes"][0]["name"] == "init" and moment["processes_time"] == T0
    # Far from any sample there was no value then.
    assert reader.moment("host", T0 + 60) == {"time": T0 + 60, "values": {}, "processes": [],
                                              "processes_time": None, "processes_tier": None}


def test_query_reduces_to_at_most_points_buckets_of_min_avg_max(writer, path):
    fill(writer, 600)  # values 0..99 repeating
    result = Reader(path).query("host", T0, T0 + 600, points=6, categories=["cpu"])
    assert result["step"] == 100.0
    assert result["times"] == [T0 + 50 + 100 * i for i in range(6)]
    total = next(s for s in result["series"] if s["label"] == "total")
    assert total["min"] == [0.0] * 6 and total["max"] == [99.0] * 6 and total["avg"] == [49.5] * 6
    assert total["unit"] == "%"


def test_narrow_buckets_are_widened_to_the_sampling_interval(writer, path):
    fill(writer, 10)
    result = Reader(path).query("host", T0, T0 + 10, points=1000)
    assert result["step"] == 1.0 and len(result["times"]) == 10


def test_a_sample_a_bucket_is_its_min_avg_and_max_in_lists_and_json(writer, path):
    import orjson
    from statsserver.storage.answers import range_json
    fill(writer, 600, step=10.0, interval=10.0, skip=[(T0 + 200, T0 + 300)])  # totals 0, 1, 2, ...
    reader = Reader(path)
    for points, per_bucket in ((60, 1), (30, 2)):
        listed = reader.query("host", T0, T0 + 600, points, ["cpu"])
        assert orjson.loads(range_json(reader, "host", T0, T0 + 600, points, ["cpu"])) == listed
        total = next(s for s in listed["series"] if s["label"] == "total")
        values = [v for v in range(60) if not 20 <= v < 30]
        expected = [values[i:i + per_bucket] for i in range(0, len(values), per_bucket)]
        assert [v for v in total["min"] if v is not None] == [float(min(b)) for b in expected]
        assert [v for v in total["avg"] if v is not None] == [sum(b) / len(b) for b in expected]
        assert [v for v in total["max"] if v is not None] == [float(max(b)) for b in expected]
        assert None in total["avg"]  # the gap's marker


def test_a_gap_in_collection_stays_a_gap(writer, path):
    fill(writer, 3600, step=10.0, interval=10.0, skip=[(T0 + 1200, T0 + 2400)])
    result = Reader(path).query("host", T0, T0 + 3600, points=60, categories=["cpu"])
    total = next(s for s in result["series"] if s["label"] == "total")["avg"]
    times = result["times"]
    nulls = [t for t, v in zip(times, total) if v is None]
    assert len(nulls) == 1 and T0 + 1200 <= nulls[0] <= T0 + 2400
    assert times == sorted(times) and len(times) <= 60


def test_irregular_pushed_data_gets_no_invented_gaps(writer, path):
    for i, t in enumerate([0, 300, 2000, 2100]):
        writer.write("garden", T0 + t, {"cpu": {"soil": float(i)}}, PERCENT)
    result = Reader(path).query("garden", T0, T0 + 3600, points=100)
    assert result["series"][0]["avg"] == [0.0, 1.0, 2.0, 3.0]


def test_query_rejects_a_backward_range(writer, path):
    fill(writer, 5)
    with pytest.raises(ValueError, match="finite start before its end"):
        Reader(path).query("host", T0 + 10, T0, points=10)


def test_expire_deletes_only_what_is_older(writer, path):
    processes = [Process(1, "init", "root", 0.5, 1000, "S", T0, "/sbin/init")]
    for i in range(100):
        writer.write("host", T0 + i, {"cpu": {"total": float(i)}}, PERCENT, processes, interval=1.0)
    deleted = writer.expire(T0 + 60)
    assert deleted == 120
    reader = Reader(path)
    result = reader.query("host", T0, T0 + 100, points=100)
    assert result["times"][0] == T0 + 60.5 and len(result["times"]) == 40
    assert reader.moment("host", T0 + 10)["processes"] == []
    assert reader.moment("host", T0 + 70)["processes"][0]["pid"] == 1


def test_rewriting_a_time_replaces_rather_than_doubles(writer, path):
    writer.write("host", T0, {"cpu": {"total": 1.0}}, PERCENT)
    writer.write("host", T0, {"cpu": {"total": 2.0}}, PERCENT)
    assert writer.db.execute("SELECT count(*), max(value) FROM head").fetchone() == (1, 2.0)


def test_pushed_points_are_read_at_once_and_settle_into_the_head(writer, path):
    writer.write("host", T0, {"cpu": {"total": 1.0}}, PERCENT)
    writer.write_points("host", [("cpu", "total", T0, 5.0), ("cpu", "total", T0 + 1, 6.0)], PERCENT)
    reader = Reader(path)
    assert writer.db.execute("SELECT count(*) FROM incoming").fetchone() == (2,)
    assert reader.latest("host")["cpu"]["total"] == (T0 + 1, 6.0)  # before it settles
    assert writer.settle() == 2
    assert writer.db.execute("SELECT count(*) FROM incoming").fetchone() == (0,)
    # The pushed value at T0 replaced the collected one: nothing doubled, nothing lost.
    assert writer.db.execute("SELECT time, value FROM samples ORDER BY time").fetchall() == \
        [(T0 * 1000, 5.0), ((T0 + 1) * 1000, 6.0)]
    assert reader.query("host", T0, T0 + 2, points=2)["series"][0]["max"] == [5.0, 6.0]


def test_a_push_with_many_rows_per_series_goes_to_the_head_after_what_waits(writer, path):
    writer.write_points("host", [("cpu", "total", T0, 5.0)], PERCENT)  # waits in incoming
    many = [("cpu", "total", T0 + i, 7.0) for i in range(8)]  # T0 again: the later write wins
    writer.write_points("host", many, PERCENT)
    assert writer.db.execute("SELECT count(*) FROM incoming").fetchone() == (0,)
    assert writer.db.execute("SELECT count(*), min(value) FROM samples").fetchone() == (8, 7.0)
    writer.settle()
    assert Reader(path).latest("host")["cpu"]["total"] == (T0 + 7, 7.0)
    assert writer.db.execute("SELECT value FROM samples WHERE time = ?", (T0 * 1000,)).fetchone() == (7.0,)


def test_a_changed_declaration_updates_the_catalog(writer, path):
    writer.write("host", T0, {"cpu": {"total": 1.0}}, {"cpu": gauge("%")})
    writer.write("host", T0 + 1, {"cpu": {"total": 1.0}}, {"cpu": gauge("‰", graph=False)})
    (series,) = Reader(path).series("host")
    assert series.unit == "‰" and series.graph is False


def test_a_failed_write_stores_nothing_and_the_writer_recovers(writer, path):
    writer.write("host", T0, {"cpu": {"total": 1.0}}, PERCENT)
    with pytest.raises(KeyError):
        writer.write("host", T0 + 1, {"cpu": {"x": 1.0}, "undeclared": {"y": 2.0}}, PERCENT)
    assert writer.db.execute("SELECT count(*) FROM series").fetchone() == (1,)
    writer.write("host", T0 + 2, {"cpu": {"x": 3.0}}, PERCENT)
    assert Reader(path).latest("host")["cpu"]["x"] == (T0 + 2, 3.0)


def test_readers_are_read_only(writer, path):
    fill(writer, 3)
    reader = Reader(path)
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        reader.db.execute("DELETE FROM samples")


def test_a_reader_needs_an_existing_database(tmp_path):
    with pytest.raises(StoreError, match="no database here yet"):
        Reader(tmp_path / "missing.db")


def test_readers_do_not_block_the_writer(writer, path):
    fill(writer, 1)
    reader = Reader(path)
    reader.db.execute("BEGIN")
    reader.db.execute("SELECT count(*) FROM head").fetchone()  # holds a read snapshot
    errors = []

    def write_more():
        try:
            fill(writer, 50, start=T0 + 10)
        except Exception as error:  # pragma: no cover - the assertion below reports it
            errors.append(error)

    thread = threading.Thread(target=write_more)
    thread.start()
    thread.join(timeout=5)
    assert not thread.is_alive() and not errors
    assert reader.db.execute("SELECT count(*) FROM head").fetchone() == (2,)  # its snapshot
    reader.db.execute("COMMIT")
    assert reader.db.execute("SELECT count(*) FROM head").fetchone() == (102,)


def test_write_points_at_many_times_all_or_nothing(writer, path):
    metrics = {"garden": gauge("°C")}
    writer.write_points("garden", [("garden", "soil", T0, 10.0), ("garden", "air", T0 + 5, 12.0)], metrics)
    assert Reader(path).latest("garden") == {"garden": {"soil": (T0, 10.0), "air": (T0 + 5, 12.0)}}
    assert writer.series_count("garden") == 2 and writer.series_count("nobody") == 0
    with pytest.raises(KeyError):  # the last point has no declaration: none of them land
        writer.write_points("garden", [("garden", "soil", T0 + 10, 11.0), ("other", "x", T0 + 10, 1.0)], metrics)
    assert Reader(path).latest("garden")["garden"]["soil"] == (T0, 10.0)
    assert writer.series_count("garden") == 2


def test_since_and_last_time_feed_the_live_updates(writer, path):
    reader = Reader(path)
    assert reader.last_time("host") is None and reader.since("host", 0) == []
    fill(writer, 5)
    assert reader.last_time("host") == T0 + 4
    newer = reader.since("host", T0 + 2)
    assert [entry["time"] for entry in newer] == [T0 + 3, T0 + 4]
    assert newer[0]["values"] == {"cpu": {"total": 3.0, "core0": 50.0}}


def test_decoded_blocks_are_shared_read_only_and_bounded():
    import numpy as np
    from statsserver.storage.reader import DecodedBlocks
    calls = []

    def decode(blob):
        calls.append(blob)
        return np.frombuffer(blob, dtype=np.uint8).astype(np.int64), len(blob)

    blocks = DecodedBlocks(budget_bytes=3 * (8 * 100 + 100))
    first = blocks.get(decode, bytes(100))
    assert blocks.get(decode, bytes(100)) is first and len(calls) == 1  # the same bytes: decoded once
    with pytest.raises(ValueError):
        first[0][0] = 1  # a caller cannot change it for everyone
    for size in (101, 102, 103):
        blocks.get(decode, bytes(size))
    assert blocks.size <= blocks.budget and len(blocks.entries) < 4
    blocks.get(decode, bytes(100))  # the oldest went first
    assert len(calls) == 5


def test_answers_carry_six_significant_digits(writer, path):
    writer.write("host", T0, {"cpu": {"total": 43.3}}, PERCENT)
    writer.write("host", T0 + 1, {"cpu": {"total": 10.0 / 3}}, PERCENT)
    for second, load in ((2, 1.0), (3, 1.0), (4, 2.0)):
        writer.write("host", T0 + second, {"load": {"1m": load}}, {"load": gauge("")})
    writer.write_points("host", [("net", "in", T0, 1234567.891), ("net", "in", T0 + 1, 120.0)],
                        {"net": gauge("B/s")})
    writer.maintain(T0 + 7200)  # compacted: values come back dequantised, as 433 x 0.1
    reader = Reader(path)
    cpu = reader.query("host", T0, T0 + 2, points=1, categories=["cpu"])["series"][0]
    assert cpu["max"] == [43.3] and cpu["min"] == [3.3]  # % is kept to 0.1
    assert cpu["avg"] == [23.3]
    # Unrounded, the average 4/3 would print with sixteen digits.
    assert reader.query("host", T0, T0 + 5, points=1, categories=["load"])["series"][0]["avg"] == [1.33333]
    net = reader.query("host", T0, T0 + 2, points=2, categories=["net"])["series"][0]
    assert net["max"] == [1234570.0, 120.0]  # small values keep their own digits beside large ones


def test_a_reader_sees_a_new_series_source_and_category_after_each_commit(writer, path):
    """The catalog is kept between commits; another process's commit is seen at once."""
    import subprocess
    import sys
    writer.write("host", T0, {"cpu": {"total": 1.0}}, PERCENT, interval=1.0)
    reader = Reader(path)
    assert [s.label for s in reader.series("host")] == ["total"]
    assert reader.catalog() is reader.catalog()  # no commit in between: the same snapshot
    writer.write("host", T0 + 1, {"cpu": {"total": 2.0, "core0": 3.0}}, PERCENT, interval=1.0)
    assert [s.label for s in reader.series("host")] == ["total", "core0"]
    script = ("import sys; from statsserver.collectors.base import gauge; from statsserver.storage import Writer;"
              "w = Writer(sys.argv[1]); w.write_points('garden', [('soil', 'moisture', 1700000000.0, 40.0)],"
              " {'soil': gauge('%')}); w.close()")
    subprocess.run([sys.executable, "-c", script, str(path)], check=True)
    assert [s["name"] for s in reader.sources()] == ["host", "garden"]
    assert reader.interval("garden") is None and reader.interval("host") == 1.0
    answer = reader.query("garden", T0 - 10, T0 + 10, points=1)
    assert [(s["label"], s["max"]) for s in answer["series"]] == [("moisture", [40.0])]


def test_buckets_laid_side_by_side_reduce_as_reduceat_does():
    import numpy as np
    from statsserver.storage.planner import Grouping, Plan, SPREAD_LONGEST
    from statsserver.storage.tiers import RAW
    random = np.random.default_rng(7)
    for width in (1, 2, 3, 5, SPREAD_LONGEST, SPREAD_LONGEST + 1, 50):
        times = np.cumsum(random.integers(1, 4, 300))
        grouping = Grouping(times, Plan(RAW, 0, width, 1000), 5, 700)
        values = random.normal(size=(4, len(times)))[:, grouping.start:grouping.stop]
        values[random.random(values.shape) < 0.2] = np.nan
        counts = random.integers(0, 3, values.shape)
        if grouping.trivial:  # a bucket per time: nothing to reduce
            assert len(set(grouping.buckets.tolist())) == len(grouping.buckets) == grouping.stop - grouping.start
            continue
        assert (grouping.spread is not None) == (1 < grouping.sizes.max() <= SPREAD_LONGEST)
        for ufunc, matrix in ((np.fmin, values), (np.fmax, values), (np.minimum, np.nan_to_num(values)),
                              (np.add, np.nan_to_num(values)), (np.add, counts)):
            expected = ufunc.reduceat(matrix, grouping.firsts, axis=1)
            assert np.array_equal(grouping.reduce(ufunc, matrix), expected, equal_nan=True), (width, ufunc)


def test_an_unbroken_run_of_rollup_buckets_folds_as_reduceat_does():
    import numpy as np
    from statsserver.storage.planner import Grouping, Output, Plan, SPREAD_LONGEST
    from statsserver.storage.tiers import ROLLUPS
    tier, random = ROLLUPS[0], np.random.default_rng(7)
    for per_bucket in range(2, SPREAD_LONGEST + 2):
        plan = Plan(tier, 0, per_bucket * tier.step_ms, 1000)
        for skipped in range(per_bucket):  # the run may start anywhere in an output bucket
            for count in (2, 3, per_bucket, per_bucket + 1, 5 * per_bucket - 1):
                times = (skipped + np.arange(count)) * tier.step_ms
                grouping = Grouping(times, plan, plan.origin, plan.end)
                assert (grouping.unbroken is not None) == (per_bucket <= SPREAD_LONGEST)
                aggregates = random.normal(size=(4, 3, count))
                aggregates[:2][random.random((2, 3, count)) < 0.2] = np.nan
                output = Output([1, 2, 3])
                output.fold_buckets(np.arange(3), grouping, aggregates)
                buckets, cells = output.cells()
                inside = times // plan.width
                firsts = np.flatnonzero(np.diff(inside, prepend=-1))
                assert buckets.tolist() == inside[firsts].tolist()
                for cell, ufunc, matrix in zip(cells, (np.fmin, np.add, np.fmax, np.add), aggregates[[0, 2, 1, 3]]):
                    assert np.array_equal(cell, ufunc.reduceat(matrix, firsts, axis=1), equal_nan=True), \
                        (per_bucket, skipped, count, ufunc)


def test_a_rollup_run_ending_in_the_heads_samples_folds_as_reduceat_does():
    # A month's chart: a tier's buckets one after another (with a gap or not), then the head's
    # samples off its grid; the unbroken part is laid out, the output buckets after it reduced.
    import numpy as np
    from statsserver.storage.planner import SPLIT_BUCKETS, SPREAD_LONGEST, Grouping, Output, Plan
    from statsserver.storage.tiers import ROLLUPS
    tier, random = ROLLUPS[0], np.random.default_rng(11)
    for per_bucket in (2, 3, SPREAD_LONGEST):
        plan = Plan(tier, 0, per_bucket * tier.step_ms, 1000)
        for skipped in range(per_bucket):
            for buckets, samples, gap in ((200, 1, 0), (200, 3, 0), (201, 2 * SPREAD_LONGEST, 0),
                                          (40, 2 * SPREAD_LONGEST, 0), (3, 5, 0), (1, 4, 0), (300, 3, 7),
                                          (300, 2 * SPREAD_LONGEST, 1000), (400, 1, 1)):
                grid = (skipped + np.arange(buckets)) * tier.step_ms
                grid[buckets // 3:] += gap * tier.step_ms
                head = grid[-1] + np.cumsum(random.integers(1, tier.step_ms // 2, samples))
                times = np.concatenate([grid, head])
                grouping = Grouping(times, plan, plan.origin, plan.end)
                aggregates = random.normal(size=(4, 3, len(times)))
                aggregates[:2][random.random((2, 3, len(times))) < 0.2] = np.nan
                output = Output([1, 2, 3])
                output.fold_buckets(np.arange(3), grouping, aggregates)
                buckets_out, cells = output.cells()
                inside = times // plan.width
                firsts = np.flatnonzero(np.diff(inside, prepend=-1))
                assert buckets_out.tolist() == inside[firsts].tolist()
                for cell, ufunc, matrix in zip(cells, (np.fmin, np.add, np.fmax, np.add), aggregates[[0, 2, 1, 3]]):
                    assert np.array_equal(cell, ufunc.reduceat(matrix, firsts, axis=1), equal_nan=True), \
                        (per_bucket, skipped, buckets, samples, gap, ufunc)
                if buckets // 3 >= (SPLIT_BUCKETS + 1) * per_bucket + skipped:
                    assert grouping.unbroken is not None and grouping.rest is not None


def test_output_cells_fold_parts_over_the_buckets_they_cover():
    import numpy as np
    from statsserver.storage.planner import Output
    random = np.random.default_rng(5)
    for trial in range(50):
        output = Output([4, 7, 9, 12])
        expected: dict = {}
        for _ in range(random.integers(1, 4)):
            rows = np.sort(random.choice(4, random.integers(1, 5), replace=False))  # runs or not
            buckets = np.sort(random.choice(30, random.integers(1, 8), replace=False))
            mins, maxs = random.normal(size=(2, len(rows), len(buckets)))
            mins[random.random(mins.shape) < 0.2] = np.nan
            sums, counts = random.normal(size=(len(rows), len(buckets))), random.integers(0, 3, (len(rows), len(buckets)))
            output.merge(rows, buckets, mins, maxs, sums, counts)
            for i, row in enumerate(rows.tolist()):
                for j, bucket in enumerate(buckets.tolist()):
                    cell = expected.setdefault((row, bucket), [np.nan, 0.0, np.nan, 0.0])
                    cell[:] = [np.fmin(cell[0], mins[i, j]), cell[1] + sums[i, j], np.fmax(cell[2], maxs[i, j]),
                               cell[3] + counts[i, j]]
        buckets, cells = output.cells()
        assert buckets.tolist() == sorted({bucket for _, bucket in expected})
        for row in range(4):
            for column, bucket in enumerate(buckets.tolist()):
                assert np.allclose(cells[:, row, column], expected.get((row, bucket), [np.nan, 0, np.nan, 0]),
                                   equal_nan=True), (trial, row, bucket)


def test_answers_as_arrays_make_the_same_json_as_lists(writer, path):
    import orjson
    fill(writer, 600, skip=[(T0 + 100, T0 + 200)])  # a gap: a null marker and empty buckets
    writer.write("host", T0 + 300, {"cpu": {"late": 7.0}}, PERCENT, interval=1.0)  # a series with holes
    writer.maintain(T0 + 7200)
    reader = Reader(path)
    for points in (7, 60, 1000):
        listed = reader.query("host", T0 - 50, T0 + 650, points)
        arrays = reader.query("host", T0 - 50, T0 + 650, points, arrays=True)
        assert None in listed["series"][-1]["avg"]
        assert orjson.dumps(arrays, option=orjson.OPT_SERIALIZE_NUMPY) == orjson.dumps(listed)


def _answer(reader, *query):
    import orjson
    return orjson.dumps(reader.query(*query, arrays=True), option=orjson.OPT_SERIALIZE_NUMPY)


def test_a_reader_kept_between_queries_answers_as_a_new_one_would(writer, path):
    """A reader keeps the head and the raw windows it joined; whatever commits in between (new
    samples, pushes waiting in `incoming`, late data rewriting a window, compaction), each
    answer is the one a reader opened for it gives."""
    import random
    fill(writer, 3 * 3600, step=5.0, interval=5.0, skip=[(T0 + 3000, T0 + 4000)])
    writer.maintain(T0 + 3 * 3600 - 100)
    kept = Reader(path)
    shapes = random.Random(3)
    steps = [
        lambda: writer.write("host", T0 + 3 * 3600 + 1, {"cpu": {"total": 99.0, "core0": 1.0}}, PERCENT,
                             interval=5.0),
        lambda: writer.write_points("host", [("cpu", "total", T0 + 3 * 3600 - 55, 77.0)], PERCENT),  # waits
        lambda: writer.write_points("host", [("cpu", "core0", T0 + 600.5, 12.5)] * 5, PERCENT),  # late
        lambda: writer.settle(),
        lambda: writer.maintain(T0 + 4 * 3600),
    ]
    for step in [lambda: None, *steps]:
        step()
        for _ in range(30):
            span = shapes.choice([60, 600, 3600, 3 * 3600, 86400, 30 * 86400])
            end = T0 + 3 * 3600 + 10 - shapes.random() * 3 * 3600
            query = ("host", end - span, end, shapes.choice([1, 7, 100, 1000]), shapes.choice([None, ["cpu"]]))
            from_kept = _answer(kept, *query)  # may use blocks and joined windows decoded before a commit
            DECODED.clear()  # the fresh reader decodes everything itself
            assert from_kept == _answer(Reader(path), *query), query


def test_a_point_pushed_over_a_stored_one_counts_with_it_until_it_settles(writer, path):
    # As the rollup tiers' GROUP BY has always counted it: both values, until settling keeps the pushed one.
    fill(writer, 60)
    writer.write_points("host", [("cpu", "total", T0 + 30, 77.0)], PERCENT)
    reader = Reader(path)
    for points, tier in ((60, "raw"), (1, "1m")):
        total = next(s for s in reader.query("host", T0, T0 + 60, points, tier=tier)["series"]
                     if s["label"] == "total")
        bucket = 30 if points == 60 else 0
        assert total["max"][bucket] == 77.0
        assert total["min"][bucket] == (30.0 if points == 60 else 0.0)
    assert next(s for s in reader.query("host", T0, T0 + 60, 60)["series"] if s["label"] == "total")["avg"][30] == 53.5
    writer.settle()
    total = next(s for s in reader.query("host", T0, T0 + 60, 60)["series"] if s["label"] == "total")
    assert total["min"][30] == total["max"][30] == total["avg"][30] == 77.0


def test_a_query_reads_one_moment_while_maintenance_commits(writer, path, monkeypatch):
    fill(writer, 1800)  # all of it in the head
    expected = _answer(Reader(path), "host", T0, T0 + 1800, 300)
    reader = Reader(path)
    read_head = Reader._head

    def compacted_first(self, output):  # after the query read the (no) blocks, before the head
        writer.maintain(T0 + 7200)
        return read_head(self, output)

    monkeypatch.setattr(Reader, "_head", compacted_first)
    assert _answer(reader, "host", T0, T0 + 1800, 300) == expected
    assert writer.db.execute("SELECT count(*) FROM samples").fetchone() == (0,)  # it did move the head
    monkeypatch.undo()
    assert _answer(reader, "host", T0, T0 + 1800, 300) == expected  # from the blocks now


def test_decoded_blocks_keep_nested_results_read_only_and_never_one_beyond_the_budget():
    import numpy as np
    from statsserver.storage.reader import DecodedBlocks
    blocks = DecodedBlocks(budget_bytes=1000)

    def join(rows):  # as the joined raw windows are kept: keyed by rows of bytes
        return tuple((np.zeros(len(blob)), len(blob)) for _, blob in rows)

    kept = blocks.get(join, ((1, bytes(40)), (2, bytes(60))))
    assert blocks.size == 100 + 8 * 100 and blocks.get(join, ((1, bytes(40)), (2, bytes(60)))) is kept
    with pytest.raises(ValueError):
        kept[0][0][0] = 1.0
    blocks.get(join, ((3, bytes(500)),))  # more than the whole budget: answered, not kept
    assert list(blocks.entries) == [(join, ((1, bytes(40)), (2, bytes(60))))]


def test_closing_while_another_process_holds_the_write_lock_keeps_everything(path):
    writer = Writer(path)
    fill(writer, 600)
    writer.maintain(T0 + 7200)  # compacted: the statistics PRAGMA optimize refreshes are due
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    writer.db.execute("PRAGMA busy_timeout = 0")  # busy at once, rather than after a wait
    writer.close()  # the statistics are skipped; the close is not
    holder.execute("COMMIT")
    holder.close()
    reader = Reader(path)
    assert reader.latest("host")["cpu"]["total"] == (T0 + 599, 599.0 % 100)
    assert len(reader.query("host", T0, T0 + 600, 600)["times"]) == 600
