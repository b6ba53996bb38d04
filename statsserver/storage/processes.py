"""Process history: who was busy, per sample for the raw window, per minute beyond it.

A process is named by (source, pid, start time): a reused pid is another process. Its name, user
and command line are stored once, in `processes`. What changes each sample (CPU, memory, disk
rates, state) lands as small rows in the head (`process_samples`) and is compacted, with the
metrics' raw windows, into one block per source and window: a matrix with a row per process
and a column per sample time, NaN where the process was not in the top. A process is in the top
for a stretch of samples, so a row compresses like a series (the same codec as the metric
blocks). When a block passes raw retention (`keep_raw`) it becomes its minute block: per minute,
the top processes by average CPU and by average memory, kept as long as the 1-minute tier
(`keep_minutes`).
"""

from __future__ import annotations

import json
import math
import sqlite3
import struct
from dataclasses import dataclass

import numpy as np

from .chunks import _strict, decode_matrix, decode_times_array, encode_matrix, encode_times, steps_for
from .codec import CodecError, compress, decode_ints_array, decompress, encode_ints
from .tiers import MINUTE, RAW, ROLLUPS

# The tier numbers process blocks are stored under, and whose retention they follow.
RAW_TIER = RAW.number
MINUTE_TIER = next(tier for tier in ROLLUPS if tier.step_ms == MINUTE).number

FIELDS = ("cpu", "rss", "disk_read", "disk_write", "state")
UNITS = ("%", "B", "B/s", "B/s", "")
_HEADER = struct.Struct("<II")  # processes, times
_PRESENCE = FIELDS.index("rss")
_UNKNOWN = -1.0
# A process identified by the API's start time matches a stored one this close (ms): start times
# are derived from boot time and clock ticks, and a restarted collector may round differently.
STARTED_TOLERANCE_MS = 1000


@dataclass
class Block:
    times: np.ndarray  # int64 ms, ascending
    ids: np.ndarray  # process ids, ascending
    values: np.ndarray  # (len(FIELDS), processes, times); NaN where the process was not listed
    # Minute blocks carry the identities they list, {id: (pid, started ms, name, user, command)}:
    # then the identities table need not keep every process that ever ran for keep_minutes.
    identities: dict[int, tuple] | None = None

    @property
    def present(self) -> np.ndarray:
        return ~np.isnan(self.values[_PRESENCE])  # every listed process has a memory figure


def encode_block(block: Block) -> tuple[bytes, bytes]:
    """(times blob, values blob). Each field is a matrix of its own, with its own integer width:
    a disk rate's large steps must not widen the CPU column. Only memory keeps a mask of where
    a process was listed; the other fields mark a value the system did not give with -1, which
    no CPU share, rate or state code can be."""
    fields, rows, length = block.values.shape
    present = block.present
    parts = [_HEADER.pack(rows, length), encode_ints(block.ids.tolist(), 1)]
    for field, (values, unit) in enumerate(zip(block.values, UNITS)):
        if field != _PRESENCE:
            values = np.where(present & np.isnan(values), _UNKNOWN, values)
        parts.append(encode_matrix(values, steps_for([unit] * rows, values), masks=field == _PRESENCE))
    if block.identities is not None:
        # Compressed together, similar command lines (a build's compiler runs) cost little.
        parts.append(json.dumps([block.identities[i] for i in block.ids.tolist()], separators=(",", ":")).encode())
    return encode_times(block.times.tolist()), compress(parts)


@_strict
def decode_block(times_blob: bytes, data_blob: bytes) -> Block:
    times = decode_times_array(times_blob).astype(np.int64)
    data = decompress(data_blob)
    rows, length = _HEADER.unpack_from(data)
    if length != len(times):
        raise CodecError("a process block does not match its times")
    ids, offset = decode_ints_array(data, _HEADER.size)
    if len(ids) != rows:
        raise CodecError("a process block's processes do not match its header")
    values = np.empty((len(FIELDS), rows, length))
    for field in range(len(FIELDS)):
        values[field], offset = decode_matrix(data, offset, rows, length)
    absent = np.isnan(values[_PRESENCE])
    values[:, absent] = np.nan
    values[values == _UNKNOWN] = np.nan
    identities = None
    if offset < len(data):
        identities = {i: tuple(entry) for i, entry in zip(ids.tolist(), json.loads(data[offset:]))}
    return Block(times, ids.astype(np.int64), values, identities)


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
    return Block(block.times, block.ids[keep], block.values[:, keep], block.identities)


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
    return _without_empty_rows(Block(minutes.astype(np.int64), block.ids, values, block.identities))


def merge_columns(old: Block | None, new: Block) -> Block:
    """`new`'s columns replace old ones at the same times; other old columns stay."""
    if old is None:
        return new
    keep = ~np.isin(old.times, new.times)
    kept = Block(old.times[keep], old.ids, old.values[:, :, keep], old.identities)
    times = np.union1d(kept.times, new.times)
    ids = np.union1d(kept.ids, new.ids)
    values = np.full((len(FIELDS), len(ids), len(times)), np.nan)
    for part in (kept, new):
        if part.values.size:
            rows_at, columns_at = np.searchsorted(ids, part.ids), np.searchsorted(times, part.times)
            values[:, rows_at[:, None], columns_at[None, :]] = part.values
    return _without_empty_rows(Block(times, ids, values, {**(old.identities or {}), **(new.identities or {})}))


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
    """Move the head rows of one raw window (up to `horizon`) into its block; returns rows moved.

    Runs inside the caller's transaction: the block is written and the head rows deleted in one
    commit. Rows older than raw retention (a database migrated with old lists) go straight to
    the minute tier.
    """
    end = min(start + RAW.span_ms, horizon)
    rows = db.execute(
        "SELECT time, process_id, cpu, rss, disk_read, disk_write, state FROM process_samples"
        " WHERE source_id = ? AND time >= ? AND time < ?", (source_id, start, end)).fetchall()
    window_end = start + RAW.span_ms
    if rows and window_end > cutoffs[RAW_TIER]:
        _store(db, source_id, RAW_TIER, start, window_end, merge_rows(_stored(db, source_id, RAW_TIER, start), rows))
    elif rows and window_end > cutoffs[MINUTE_TIER]:
        _store_minutes(db, source_id, start, merge_rows(None, rows))
    if rows:
        last_seen: dict[int, int] = {}
        for row in rows:
            last_seen[row[1]] = max(row[0], last_seen.get(row[1], row[0]))
        db.executemany("UPDATE processes SET last_seen = max(last_seen, ?) WHERE id = ?",
                       [(at, process) for process, at in last_seen.items()])
    db.execute("DELETE FROM process_samples WHERE source_id = ? AND time >= ? AND time < ?",
               (source_id, start, end))
    return len(rows)


def _store_minutes(db: sqlite3.Connection, source_id: int, start: int, block: Block) -> None:
    minutes = minute_top(block, np.unique(block.times - block.times % MINUTE))
    ids = minutes.ids.tolist()
    minutes.identities = {row[0]: tuple(row[1:]) for row in db.execute(
        f"SELECT id, pid, started, name, user, command FROM processes WHERE id IN ({','.join('?' * len(ids))})", ids)}
    missing = [i for i in ids if i not in minutes.identities]
    if missing:  # an identity already dropped: then its rows go too, rather than unnamed
        keep = ~np.isin(minutes.ids, missing)
        minutes = Block(minutes.times, minutes.ids[keep], minutes.values[:, keep], minutes.identities)
    merged = merge_columns(_stored(db, source_id, MINUTE_TIER, start), minutes)
    _store(db, source_id, MINUTE_TIER, start, start + RAW.span_ms, merged)


def expiring_windows(db: sqlite3.Connection, cutoffs: dict[int, int]) -> list[tuple[int, int]]:
    """(source id, start) of the raw blocks past raw retention: each becomes its minute block."""
    return db.execute("SELECT source_id, start FROM process_chunks WHERE tier = ? AND end <= ? ORDER BY start",
                      (RAW_TIER, cutoffs[RAW_TIER])).fetchall()


def downsample_window(db: sqlite3.Connection, source_id: int, start: int, cutoffs: dict[int, int]) -> None:
    """Inside the caller's transaction: a raw block past raw retention becomes the top processes
    of each of its minutes (unless those are past their retention too), and is deleted. Built
    only now, so that while raw exists the minutes cost no disk."""
    block = _stored(db, source_id, RAW_TIER, start)
    if block is not None and start + RAW.span_ms > cutoffs[MINUTE_TIER]:
        _store_minutes(db, source_id, start, block)
    db.execute("DELETE FROM process_chunks WHERE source_id = ? AND tier = ? AND start = ?",
               (source_id, RAW_TIER, start))


def expire(db: sqlite3.Connection, cutoffs: dict[int, int]) -> dict[str, int]:
    """Inside the caller's transaction: rows, blocks and identities past their tier's age."""
    deleted = {
        "process_samples": db.execute(
            "DELETE FROM process_samples WHERE source_id IN (SELECT id FROM sources) AND time < ?",
            (cutoffs[RAW_TIER],)).rowcount,
        "process_chunks": sum(db.execute("DELETE FROM process_chunks WHERE tier = ? AND end <= ?",
                                         (tier, cutoffs[tier])).rowcount for tier in (RAW_TIER, MINUTE_TIER)),
    }
    # A raw block ends at most a window after the last time it lists: a process seen last a
    # window before the raw cutoff is in no raw block any more, and its minute blocks carry it.
    deleted["processes"] = db.execute(
        "DELETE FROM processes WHERE last_seen < ? AND id NOT IN (SELECT process_id FROM process_samples)",
        (cutoffs[RAW_TIER] - RAW.span_ms,)).rowcount
    return deleted

# --- the JSON lists of migration 0001 ---------------------------------------------------------
# `process_snapshots` (a JSON list per sample) is converted a window at a time, field by field,
# into identities and head rows, and compacted in the same transaction.

_LEGACY_WINDOW = "snapshot.source_id = ? AND snapshot.time >= ? AND snapshot.time < ?"
_LEGACY_IDENTITIES = """
    INSERT OR IGNORE INTO processes (source_id, pid, started, name, user, command, last_seen)
        SELECT snapshot.source_id, json_extract(entry.value, '$.pid'),
               CAST(round(coalesce(json_extract(entry.value, '$.started'), 0) * 1000) AS INTEGER),
               coalesce(json_extract(entry.value, '$.name'), ''),
               coalesce(json_extract(entry.value, '$.user'), ''),
               coalesce(json_extract(entry.value, '$.command'), ''), max(snapshot.time)
        FROM process_snapshots AS snapshot, json_each(snapshot.processes) AS entry
        WHERE json_valid(snapshot.processes) AND json_extract(entry.value, '$.pid') IS NOT NULL
            AND {where}
        GROUP BY 1, 2, 3"""
# The identity by a lookup per entry: a subquery, so SQLite uses the unique index.
_LEGACY_ROWS = """
    INSERT OR REPLACE INTO process_samples
        SELECT snapshot.source_id, snapshot.time,
               (SELECT id FROM processes WHERE processes.source_id = snapshot.source_id
                    AND processes.pid = json_extract(entry.value, '$.pid')
                    AND processes.started = CAST(round(coalesce(json_extract(entry.value, '$.started'), 0)
                                                       * 1000) AS INTEGER)),
               json_extract(entry.value, '$.cpu'),
               coalesce(json_extract(entry.value, '$.rss'), 0), json_extract(entry.value, '$.disk_read'),
               json_extract(entry.value, '$.disk_write'), coalesce(json_extract(entry.value, '$.state'), '')
        FROM process_snapshots AS snapshot, json_each(snapshot.processes) AS entry
        WHERE json_valid(snapshot.processes) AND json_extract(entry.value, '$.pid') IS NOT NULL
            AND {where}"""


def legacy_oldest(db: sqlite3.Connection, source_id: int) -> int | None:
    return db.execute("SELECT min(time) FROM process_snapshots WHERE source_id = ?", (source_id,)).fetchone()[0]


def convert_legacy(db: sqlite3.Connection, source_id: int, start: int, end: int, keep: bool) -> None:
    """Inside the caller's transaction: 0001's lists of [start, end) become head rows (when
    `keep`: some tier still keeps that time) and are deleted."""
    window = (source_id, start, end)
    if keep:
        db.execute(_LEGACY_IDENTITIES.format(where=_LEGACY_WINDOW), window)
        db.execute(_LEGACY_ROWS.format(where=_LEGACY_WINDOW), window)
    db.execute("DELETE FROM process_snapshots WHERE source_id = ? AND time >= ? AND time < ?", window)


def legacy_list(db_rows: list[tuple]) -> list[dict]:
    """A 0001 JSON list as the API gives process lists (fields it did not have yet are null)."""
    try:
        listed = json.loads(db_rows[0][1])
    except ValueError:
        return []
    return [{"disk_read": None, "disk_write": None, **entry} for entry in listed if isinstance(entry, dict)]
