"""Process history: who was busy, per sample for the raw window, per minute beyond it.

A process is named by (source, pid, start time): a reused pid is another process. Its name, user
and command line are stored once, in `processes`. What changes each sample (CPU, memory, disk
rates, state) lands as small rows in the head (`process_samples`) and is compacted, with the
metrics' raw windows, into one block per source and window: a matrix with a row per process
and a column per sample time, NaN where the process was not in the top. A process is in the top
for a stretch of samples, so a row compresses like a series (the same codec as the metric
blocks). Each compacted window also gets its minute block: per minute, the top processes by
average CPU and by average memory, kept as long as the 1-minute tier (`keep_minutes`).
"""

from __future__ import annotations

import math
import sqlite3
from dataclasses import dataclass

import numpy as np

from .chunks import decode_raw_block, decode_times_array, encode_raw_block, encode_times
from .tiers import MINUTE, RAW, ROLLUPS

# The tier numbers process blocks are stored under, and whose retention they follow.
RAW_TIER = RAW.number
MINUTE_TIER = next(tier for tier in ROLLUPS if tier.step_ms == MINUTE).number

FIELDS = ("cpu", "rss", "disk_read", "disk_write", "state")
UNITS = ("%", "B", "B/s", "B/s", "")
# A process identified by the API's start time matches a stored one this close (ms): start times
# are derived from boot time and clock ticks, and a restarted collector may round differently.
STARTED_TOLERANCE_MS = 1000


@dataclass
class Block:
    times: np.ndarray  # int64 ms, ascending
    ids: np.ndarray  # process ids, ascending
    values: np.ndarray  # (len(FIELDS), processes, times); NaN where the process was not listed

    @property
    def present(self) -> np.ndarray:
        return ~np.isnan(self.values[1])  # every listed process has a memory figure


def encode_block(block: Block) -> tuple[bytes, bytes]:
    """(times blob, values blob). The fields' matrices are stacked into one raw block."""
    fields, rows, length = block.values.shape
    ids = block.ids.tolist() * fields
    units = [unit for unit in UNITS for _ in range(rows)]
    return (encode_times(block.times.tolist()),
            encode_raw_block(ids, block.values.reshape(fields * rows, length), units))


def decode_block(times_blob: bytes, data_blob: bytes) -> Block:
    times = decode_times_array(times_blob)
    ids, values, _ = decode_raw_block(data_blob)
    rows = len(ids) // len(FIELDS)
    return Block(times.astype(np.int64), ids[:rows].astype(np.int64),
                 values.reshape(len(FIELDS), rows, len(times)))


def decode_times(times_blob: bytes) -> np.ndarray:
    return decode_times_array(times_blob).astype(np.int64)


def _state_code(state: str | None) -> float:
    return float(ord(state[0])) if state else math.nan


def merge_rows(old: Block | None, rows: list[tuple]) -> Block:
    """A block with head rows (time, process id, cpu, rss, read, write, state) merged in; a row
    at a time and process already stored replaces it."""
    new_times = np.array([row[0] for row in rows], np.int64)
    new_ids = np.array([row[1] for row in rows], np.int64)
    times = np.union1d(new_times, old.times if old else new_times)
    ids = np.union1d(new_ids, old.ids if old else new_ids)
    values = np.full((len(FIELDS), len(ids), len(times)), np.nan)
    if old is not None and old.values.size:
        rows_at, columns_at = np.searchsorted(ids, old.ids), np.searchsorted(times, old.times)
        values[:, rows_at[:, None], columns_at[None, :]] = old.values
    if rows:
        numbers = np.array([[np.nan if v is None else v for v in row[2:6]] + [_state_code(row[6])]
                            for row in rows], np.float64)
        values[:, np.searchsorted(ids, new_ids), np.searchsorted(times, new_times)] = numbers.T
    return _without_empty_rows(Block(times, ids, values))


def _without_empty_rows(block: Block) -> Block:
    keep = block.present.any(axis=1)
    if keep.all():
        return block
    return Block(block.times, block.ids[keep], block.values[:, keep])


def minute_top(block: Block, minutes: np.ndarray) -> Block:
    """Per minute start in `minutes`: the top processes by average CPU and by average memory.

    As many of each as the fullest sample of that minute listed, so a minute keeps about what
    one sample keeps. A process missing from some samples of the minute was below the top then:
    its CPU counts as 0 there (a lower bound), its memory and disk rates average where known.
    """
    values = np.full((len(FIELDS), len(block.ids), len(minutes)), np.nan)
    column_of = np.searchsorted(minutes, block.times - block.times % MINUTE)
    for column, minute in enumerate(minutes.tolist()):
        inside = column_of == column
        if not inside.any():
            continue
        cells = block.values[:, :, inside]
        present = ~np.isnan(cells[1])
        listed = present.any(axis=1)
        if not listed.any():
            continue
        known = ~np.isnan(cells[:4])
        totals = np.where(known, cells[:4], 0.0).sum(axis=2)
        with np.errstate(all="ignore"):
            means = list(totals / known.sum(axis=2))
            means[0] = np.where(known[0].any(axis=1), totals[0] / inside.sum(), np.nan)
        keep = int(present.sum(axis=0).max())
        candidates = np.flatnonzero(listed)
        by_cpu = candidates[np.argsort(-np.nan_to_num(means[0][candidates], nan=-1.0), kind="stable")[:keep]]
        by_memory = candidates[np.argsort(-means[1][candidates], kind="stable")[:keep]]
        for row in np.union1d(by_cpu, by_memory):
            values[:4, row, column] = [mean[row] for mean in means]
    return _without_empty_rows(Block(minutes.astype(np.int64), block.ids, values))


def merge_columns(old: Block | None, new: Block) -> Block:
    """`new`'s columns replace old ones at the same times; other old columns stay."""
    if old is None:
        return new
    keep = ~np.isin(old.times, new.times)
    kept = Block(old.times[keep], old.ids, old.values[:, :, keep])
    times = np.union1d(kept.times, new.times)
    ids = np.union1d(kept.ids, new.ids)
    values = np.full((len(FIELDS), len(ids), len(times)), np.nan)
    for part in (kept, new):
        if part.values.size:
            rows_at, columns_at = np.searchsorted(ids, part.ids), np.searchsorted(times, part.times)
            values[:, rows_at[:, None], columns_at[None, :]] = part.values
    return _without_empty_rows(Block(times, ids, values))


def _stored(db: sqlite3.Connection, source_id: int, tier: int, start: int) -> Block | None:
    found = db.execute("SELECT times, data FROM process_chunks WHERE source_id = ? AND tier = ? AND start = ?",
                       (source_id, tier, start)).fetchone()
    return decode_block(*found) if found else None


def _store(db: sqlite3.Connection, source_id: int, tier: int, start: int, end: int, block: Block) -> None:
    if not len(block.ids):
        db.execute("DELETE FROM process_chunks WHERE source_id = ? AND tier = ? AND start = ?",
                   (source_id, tier, start))
        return
    db.execute("INSERT INTO process_chunks (source_id, tier, start, end, times, data) VALUES (?, ?, ?, ?, ?, ?)"
               " ON CONFLICT (source_id, tier, start) DO UPDATE SET times = excluded.times, data = excluded.data",
               (source_id, tier, start, end, *encode_block(block)))


def compact_window(db: sqlite3.Connection, source_id: int, start: int, horizon: int,
                   cutoffs: dict[int, int]) -> int:
    """Move the head rows of one raw window (up to `horizon`) into its blocks; returns rows moved.

    Runs inside the caller's transaction: the blocks are written and the head rows deleted in
    one commit. The window's minutes touched by new rows are ranked again from the whole merged
    window, so a late row still counts in its minute.
    """
    end = min(start + RAW.span_ms, horizon)
    rows = db.execute(
        "SELECT time, process_id, cpu, rss, disk_read, disk_write, state FROM process_samples"
        " WHERE source_id = ? AND time >= ? AND time < ?", (source_id, start, end)).fetchall()
    window_end = start + RAW.span_ms
    if rows and window_end > min(cutoffs[RAW_TIER], cutoffs[MINUTE_TIER]):
        block = merge_rows(_stored(db, source_id, RAW_TIER, start), rows)
        if window_end > cutoffs[RAW_TIER]:
            _store(db, source_id, RAW_TIER, start, window_end, block)
        if window_end > cutoffs[MINUTE_TIER]:
            touched = np.unique(np.array([row[0] for row in rows], np.int64) // MINUTE * MINUTE)
            minutes = merge_columns(_stored(db, source_id, MINUTE_TIER, start), minute_top(block, touched))
            _store(db, source_id, MINUTE_TIER, start, window_end, minutes)
        last_seen: dict[int, int] = {}
        for row in rows:
            last_seen[row[1]] = max(row[0], last_seen.get(row[1], row[0]))
        db.executemany("UPDATE processes SET last_seen = max(last_seen, ?) WHERE id = ?",
                       [(at, process) for process, at in last_seen.items()])
    db.execute("DELETE FROM process_samples WHERE source_id = ? AND time >= ? AND time < ?",
               (source_id, start, end))
    return len(rows)


def expire(db: sqlite3.Connection, cutoffs: dict[int, int]) -> dict[str, int]:
    """Inside the caller's transaction: rows, blocks and identities past their tier's age."""
    deleted = {
        "process_samples": db.execute(
            "DELETE FROM process_samples WHERE source_id IN (SELECT id FROM sources) AND time < ?",
            (cutoffs[RAW_TIER],)).rowcount,
        "process_chunks": sum(db.execute("DELETE FROM process_chunks WHERE tier = ? AND end <= ?",
                                         (tier, cutoffs[tier])).rowcount for tier in (RAW_TIER, MINUTE_TIER)),
    }
    # A block ends at most a window after the last time it lists: a process seen last a window
    # before both tiers' cutoffs is in no block any more.
    deleted["processes"] = db.execute(
        "DELETE FROM processes WHERE last_seen < ? AND id NOT IN (SELECT process_id FROM process_samples)",
        (min(cutoffs[RAW_TIER], cutoffs[MINUTE_TIER]) - RAW.span_ms,)).rowcount
    return deleted
