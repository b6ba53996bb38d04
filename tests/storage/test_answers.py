import random

import orjson
import pytest

from statsserver.collectors.base import gauge
from statsserver.storage import Reader, Writer
from statsserver.storage import answers
from statsserver.storage.reader import DECODED

T0 = 1_700_000_000.0
DAY = 86400
CPU = {"cpu": gauge("%")}


@pytest.fixture
def writer(tmp_path):
    writer = Writer(tmp_path / "store.db")
    yield writer
    writer.close()


def whole(path, *query) -> bytes:
    """The answer of a reader opened for it, folded whole."""
    DECODED.clear()
    return answers._whole(Reader(path).query(*query, arrays=True))


def test_a_spliced_answer_is_the_whole_fold_byte_for_byte(writer, tmp_path):
    """Whatever commits between queries (new samples, late ones for settled stretches, their
    packing, retention), a reader splicing kept stretches answers what a whole fold gives."""
    path = tmp_path / "store.db"
    answers.SETTLED.clear()
    shapes = random.Random(7)
    writer.source_id("host", 60.0)
    # Four days at a minute, two series, with collection stopped for a few hours and for a few
    # minutes: gaps the answer marks, within stretches and between them.
    stopped = [(T0 + DAY, T0 + DAY + 4 * 3600), (T0 + 2.5 * DAY, T0 + 2.5 * DAY + 600)]
    points = [("cpu", label, T0 + i * 60.0, round(shapes.uniform(0, 100), shapes.choice([0, 1, 2, 6])))
              for i in range(4 * DAY // 60) for label in ("total", "core0")
              if not any(low <= T0 + i * 60.0 < high for low, high in stopped)]
    writer.write_points("host", points, CPU)
    end = T0 + 4 * DAY
    while not writer.maintain(end).finished:
        pass
    kept = Reader(path)
    spliced = 0
    steps = [
        lambda: writer.write_points("host", [("cpu", "total", end + 30, 12.5)], CPU),  # the head
        lambda: writer.write_points("host", [("cpu", "core0", T0 + 1.5 * DAY + 90, 99.5)], CPU),  # late, settled
        lambda: writer.maintain(end + 3600),  # packed, rewriting a block
        lambda: writer.write_points("host", [("cpu", "total", T0 + DAY + 3600, 1.25)], CPU),  # in a gap
        lambda: writer.maintain(end + 2 * 3600),
        lambda: writer.maintain(end + 2 * 3600, max_age=3 * DAY),  # retention deletes old blocks
    ]
    for step in [lambda: None, *steps]:
        step()
        for _ in range(25):
            span = shapes.uniform(0.3, 4.5) * DAY
            finish = end + 3600 - shapes.random() * 2 * DAY
            query = ("host", finish - span, finish, shapes.choice([150, 400, 1000]), shapes.choice([None, ["cpu"]]))
            with kept.snapshot():
                plan = kept.planned(*query).plan
            spliced += plan.tier.step_ms > 0 and plan.count >= answers.SPLICED_FROM
            assert answers.range_json(kept, *query) == whole(path, *query), query
    assert spliced > 100  # most queries were spliced, many from stretches kept since earlier steps
    assert answers.SETTLED.entries


def test_byte_equal_blocks_at_other_starts_are_other_stretches(writer, tmp_path):
    """A constant series packs into the same bytes every span: a kept stretch is keyed by where
    its blocks start too, or retention deleting the first would leave the stretch showing it."""
    path, span = tmp_path / "store.db", 12 * 3600  # the 1-minute tier's blocks
    start = T0 // span * span
    query = ("host", start + span / 2, start + 1.5 * span, 200, None)
    answers.SETTLED.clear()
    writer.source_id("host", 60.0)

    def constant(since):
        writer.write_points("host", [("cpu", "total", since + t, 1.0) for t in range(0, span, 60)], CPU)

    def maintained(now, **retention):
        while not writer.maintain(now, **retention).finished:
            pass
        return answers.range_json(Reader(path), *query)

    constant(start)
    assert maintained(start + span + 3600) == whole(path, *query)
    constant(start + span)
    assert maintained(start + 2 * span + 3600) == whole(path, *query)
    deleted = maintained(start + 2 * span + 3600, max_age=span)  # the first block goes
    assert deleted == whole(path, *query)
    assert min(orjson.loads(deleted)["times"]) > start + span


def test_a_short_or_raw_answer_is_folded_whole(writer, tmp_path):
    writer.source_id("host", 1.0)
    writer.write_points("host", [("cpu", "total", T0 + i, float(i % 7)) for i in range(600)], CPU)
    answers.SETTLED.clear()
    answer = answers.range_json(Reader(tmp_path / "store.db"), "host", T0, T0 + 600, 1000)
    assert orjson.loads(answer)["tier"] == "raw" and not answers.SETTLED.entries
    assert answer == whole(tmp_path / "store.db", "host", T0, T0 + 600, 1000)
