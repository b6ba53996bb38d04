"""A range query's answer as the JSON /api/data sends; a long range's spliced from stretches
written once.

A month's chart is some 700 buckets of each series, and writing their numbers costs as much as
folding them (orjson spends some 25 ns on a float). Yet every refresh of the chart asks again
for buckets that cannot change unless their blocks do: all those before the first that is not
yet packed into a block of its tier. So a rollup tier's answer is cut into stretches of STRETCH
buckets, numbered on the grid of its bucket width (the grid's phase is the range's start on the
tier's grid: refreshes, and pans by whole buckets, keep it), and a settled stretch is folded and
written once. It is kept per process (SETTLED), keyed by the blocks it was folded from, their
start and bytes: a block rewritten by late data, or deleted by retention, is another key, so a
kept stretch is never stale. The rest of the range, from the first stretch not settled, is
folded and written once per commit, and every query until the next shares it.

Spliced, the answer is byte for byte the one a whole fold gives (tests hold it to that): each
number is written on its own, a bucket's time is whole milliseconds either way, and the null row
that marks a gap in collection is put in between two stretches as it is within one.
"""

from __future__ import annotations

import numpy as np
import orjson

from .planner import Plan
from .reader import DecodedBlocks, Planned, Reader, answer_columns, gap_buckets
from .tiers import RAW

# Buckets in a stretch: a month's chart is a dozen, and the open one is folded once per commit.
STRETCH = 64
# Shorter answers are folded whole: splicing would save little.
SPLICED_FROM = 2 * STRETCH
# Stretches written, with the blocks they were folded from: each entry counts its blocks' bytes,
# though stretches share them (and DECODED holds them too), so that what it keeps stays bounded.
SETTLED = DecodedBlocks(16 * 2**20)
_NUMPY = orjson.OPT_SERIALIZE_NUMPY


def range_json(reader: Reader, source: str, start: float, end: float, points: int,
               categories: list[str] | None = None) -> bytes:
    """Reader.query's answer, as JSON."""
    with reader.snapshot():
        planned = reader.planned(source, start, end, points, categories)
        if planned.selected and planned.plan.tier is not RAW and planned.plan.count >= SPLICED_FROM:
            return _spliced(reader, planned)
        return _whole(reader.answer(planned, arrays=True))


def _whole(answer: dict) -> bytes:
    for series in answer["series"]:
        # One array for min, avg and max (a sample a bucket): its numbers written once.
        if series["min"] is series["avg"]:
            series["min"] = series["avg"] = series["max"] = orjson.Fragment(orjson.dumps(series["min"], option=_NUMPY))
    return orjson.dumps(answer, option=_NUMPY)


def _spliced(reader: Reader, planned: Planned) -> bytes:
    plan = planned.plan
    width, phase = plan.width, plan.origin % plan.width
    first = plan.origin // width  # bucket 0's number on the grid of its width
    stop = first + plan.count
    unpacked = reader.unpacked_since(planned)
    # Buckets before this one hold only packed blocks: their answer follows from the blocks' bytes.
    settled = stop if unpacked is None else (unpacked - phase) // width
    ids = planned.layout.ids.tobytes()
    parts = []
    for stretch in range(first - first % STRETCH, stop, STRETCH):
        low, high = max(stretch, first), min(stretch + STRETCH, stop)
        if high > settled:
            key = ("unsettled", plan.tier.number, width, phase, low, stop, ids, planned.interval)
            parts.append(reader.kept(key, lambda: _written(reader, planned, phase + low * width, stop - low)))
            break
        begin, finish = phase + low * width, phase + high * width
        # A block's bytes do not say where it starts: two of a constant series are the same bytes.
        blocks = tuple(row for row in planned.rows if begin - plan.tier.span_ms < row[0] < finish)
        key = (plan.tier.number, width, phase, low, high, ids, planned.interval, blocks)
        # kept() calls its maker at once: the loop's low and high are this stretch's.
        parts.append(SETTLED.kept(key, lambda: _written(reader, planned, begin, high - low)))

    # The JSON of each stretch with data, and of the null row after one that precedes a gap.
    pieces: list[tuple[bytes, ...]] = []
    gap = gap_buckets(plan, planned.interval) if planned.interval else None
    last = None
    for buckets, texts in parts:
        if buckets is None:
            continue
        if gap is not None and last is not None and buckets[0] - last > gap:
            # As answer_columns marks a gap within a stretch: a null row just after its last bucket.
            time = orjson.dumps(np.array([(phase + (last + 1.0) * width) / 1000]), option=_NUMPY)[1:-1]
            pieces.append((time, *[b"null"] * (len(texts) - 1)))
        pieces.append(texts)
        last = buckets[1]
    arrays = [orjson.Fragment(b"[" + b",".join(texts) + b"]") for texts in zip(*pieces)] if pieces \
        else [orjson.Fragment(b"[]")] * (1 + 3 * len(planned.selected))
    series = [{**s.fields, "min": arrays[3 * n + 1], "avg": arrays[3 * n + 2], "max": arrays[3 * n + 3]}
              for n, s in enumerate(planned.selected)]
    return orjson.dumps({"start": planned.start, "end": planned.end, "step": width / 1000,
                         "tier": plan.tier.name, "times": arrays[0], "series": series})


def _written(reader: Reader, planned: Planned, origin: int, count: int) -> tuple:
    """`count` buckets of the planned range from `origin` (ms, on its grid), folded and written:
    ((first, last) bucket with data, numbered on the grid of their width, or None; the JSON of
    their times, then of each series' min, avg and max), arrays without their brackets."""
    plan = planned.plan
    stretch = Plan(plan.tier, origin, plan.width, count)
    output = planned.layout.fresh()
    reader.fold(planned, stretch, output)
    times, columns, _, buckets = answer_columns(output, stretch, planned.interval)
    if not len(buckets):
        return None, ()

    def text(array: np.ndarray) -> bytes:
        return orjson.dumps(array, option=_NUMPY)[1:-1]

    if len(columns) == 1:  # a sample a bucket: min, avg and max are the same numbers
        written = [once for row in columns[0] for once in (text(row),) * 3]
    else:
        written = [text(row) for rows in zip(*columns) for row in rows]
    first = origin // plan.width
    return (first + int(buckets[0]), first + int(buckets[-1])), (text(times), *written)
