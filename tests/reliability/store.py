"""Reading a database file the way a test can trust: one read transaction, every raw sample."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from statsserver.storage.chunks import decode_raw_block, decode_times_array
from statsserver.storage.tiers import RAW, ROLLUPS


def integrity(path: Path) -> str:
    """"ok", or what is wrong: SQLite's own check, samples of a series that does not exist, and
    raw blocks whose window row is gone."""
    with sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True) as db:
        problems = [row[0] for row in db.execute("PRAGMA integrity_check") if row[0] != "ok"]
        orphans = db.execute("SELECT count(*), min(series_id) FROM samples"
                             " WHERE series_id NOT IN (SELECT id FROM series)").fetchone()
        if orphans[0]:
            problems.append(f"{orphans[0]} samples of series {orphans[1]}, which does not exist")
        # A raw block's sample times are in its window's row: without it the block is unreadable.
        blind = db.execute("SELECT count(*), min(chunks.start) FROM chunks JOIN groups ON groups.id = group_id"
                           " WHERE tier = 0 AND NOT EXISTS (SELECT 1 FROM windows"
                           " WHERE windows.source_id = groups.source_id AND windows.start = chunks.start)").fetchone()
        if blind[0]:
            problems.append(f"{blind[0]} raw blocks without their window's times, from {blind[1]}")
    return "; ".join(problems) or "ok"


def raw_samples(path: Path) -> dict[tuple[str, str, str], list[tuple[int, float]]]:
    """{(source, category, label): [(time ms, value), ...] in stored order, head and raw blocks.

    One read transaction, so a compaction committing meanwhile is seen wholly or not at all.
    The lists are not deduplicated: a sample in both the head and a block shows twice.
    """
    db = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True, isolation_level=None)
    try:
        db.execute("BEGIN")
        names = {row[0]: row[1:] for row in db.execute(
            "SELECT series.id, sources.name, category, label FROM series JOIN sources ON sources.id = source_id")}
        found: dict[tuple[str, str, str], list[tuple[int, float]]] = {name: [] for name in names.values()}
        windows = {(source, start): decode_times_array(times)
                   for source, start, times in db.execute("SELECT source_id, start, times FROM windows")}
        groups = dict((row[0], row[1]) for row in db.execute("SELECT id, source_id FROM groups"))
        for group, start, data in db.execute("SELECT group_id, start, data FROM chunks WHERE tier = 0"):
            times = windows[groups[group], start].tolist()
            ids, values, _ = decode_raw_block(data)
            for series, row in zip(ids.tolist(), values.tolist()):
                found[names[series]].extend((t, v) for t, v in zip(times, row) if v == v)
        for series, time, value in db.execute(
                "SELECT series_id, time, value FROM samples WHERE series_id IN (SELECT id FROM series)"):
            found[names[series]].append((time, value))
        db.execute("COMMIT")
    finally:
        db.close()
    return found


def expirable(db: sqlite3.Connection, cutoffs: dict[int, int]) -> dict[str, int]:
    """How many rows of each kind retention with these cutoffs (ms, by tier) would delete: the
    same conditions as storage/compaction.py's expire(), counted rather than deleted."""
    raw = cutoffs[RAW.number]
    counts = {
        "samples": db.execute("SELECT count(*) FROM samples WHERE series_id IN (SELECT id FROM series) AND time < ?", (raw,)).fetchone()[0],
        "windows": db.execute("SELECT count(*) FROM windows WHERE end <= ?", (raw,)).fetchone()[0],
    }
    for tier in (RAW, *ROLLUPS):
        cutoff = cutoffs[tier.number]
        counts[f"chunks {tier.name}"] = db.execute(
            "SELECT count(*) FROM chunks WHERE tier = ? AND end <= ?", (tier.number, cutoff)).fetchone()[0]
        if tier.step_ms:
            counts[f"rollups {tier.name}"] = db.execute(
                "SELECT count(*) FROM rollups WHERE tier = ? AND start <= ?",
                (tier.number, cutoff - tier.step_ms)).fetchone()[0]
    return counts
