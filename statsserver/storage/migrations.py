"""Named schema migrations, applied in order, each in its own transaction, each recorded once.

Add a migration by appending to MIGRATIONS; never edit one that has shipped.
"""

from __future__ import annotations

import sqlite3
import time

MIGRATIONS: list[tuple[str, str]] = [
    ("0001_initial", """
        CREATE TABLE sources (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            interval REAL            -- seconds between samples; NULL for pushed, irregular data
        );
        CREATE TABLE series (
            id INTEGER PRIMARY KEY,
            source_id INTEGER NOT NULL REFERENCES sources(id),
            category TEXT NOT NULL,
            label TEXT NOT NULL,
            unit TEXT NOT NULL DEFAULT '',
            kind TEXT NOT NULL DEFAULT 'gauge',   -- 'counter' is stored as a per-second rate
            graph INTEGER NOT NULL DEFAULT 1,
            description TEXT NOT NULL DEFAULT '',
            UNIQUE (source_id, category, label)
        );
        -- time is Unix time in integer milliseconds: exact keys, and smaller than a REAL.
        CREATE TABLE samples (
            series_id INTEGER NOT NULL,
            time INTEGER NOT NULL,
            value REAL NOT NULL,
            PRIMARY KEY (series_id, time)
        ) WITHOUT ROWID;
        CREATE TABLE process_snapshots (
            source_id INTEGER NOT NULL,
            time INTEGER NOT NULL,
            processes TEXT NOT NULL,      -- JSON list of process objects
            PRIMARY KEY (source_id, time)
        ) WITHOUT ROWID;
    """),
    # The samples table stays as the head: what 0001 stored there is simply compacted by the
    # next maintenance, so this migration moves no data and cannot lose any.
    ("0002_chunks_and_rollups", """
        -- The distinct sample times of one source in one closed raw window, shared by every
        -- series of the source: a sample of 200 series pays for its timestamp once.
        CREATE TABLE windows (
            id INTEGER PRIMARY KEY,
            source_id INTEGER NOT NULL,
            start INTEGER NOT NULL,
            end INTEGER NOT NULL,
            times BLOB NOT NULL,
            UNIQUE (source_id, start)
        );
        -- A category of a source: the series one chart shows, stored together in blocks.
        CREATE TABLE groups (
            id INTEGER PRIMARY KEY,
            source_id INTEGER NOT NULL,
            category TEXT NOT NULL,
            UNIQUE (source_id, category)
        );
        -- Compressed blocks of one group: raw values in one window (tier 0), or the buckets of
        -- one rollup tier over the tier's span. A rowid table, because blocks of a few hundred
        -- bytes would overflow the pages of a WITHOUT ROWID table.
        CREATE TABLE chunks (
            id INTEGER PRIMARY KEY,
            tier INTEGER NOT NULL,
            group_id INTEGER NOT NULL,
            start INTEGER NOT NULL,
            end INTEGER NOT NULL,
            data BLOB NOT NULL,
            UNIQUE (tier, group_id, start)
        );
        CREATE INDEX chunks_by_end ON chunks (tier, end);
        -- Rollup buckets not yet packed into a chunk. A bucket may appear here and in a chunk
        -- (data that arrived late); readers merge them, which min/max/sum/count allow.
        CREATE TABLE rollups (
            tier INTEGER NOT NULL,
            series_id INTEGER NOT NULL,
            start INTEGER NOT NULL,
            min REAL NOT NULL,
            max REAL NOT NULL,
            sum REAL NOT NULL,
            count INTEGER NOT NULL,
            PRIMARY KEY (tier, series_id, start)
        ) WITHOUT ROWID;
    """),
    # Process lists as identities once and small per-sample rows. The JSON snapshots of 0001 stay
    # where they are: maintenance converts them window by window (storage/processes.py), since
    # a week of them takes minutes, too long for the one transaction of a start-up.
    ("0003_process_history", """
        -- A process of a source, named by pid and start time (ms): a reused pid is another row.
        CREATE TABLE processes (
            id INTEGER PRIMARY KEY,
            source_id INTEGER NOT NULL,
            pid INTEGER NOT NULL,
            started INTEGER NOT NULL,
            name TEXT NOT NULL,
            user TEXT NOT NULL,
            command TEXT NOT NULL,
            last_seen INTEGER NOT NULL,   -- ms; retention deletes identities no block lists
            UNIQUE (source_id, pid, started)
        );
        -- The head: the listed processes of recent samples, a row each.
        CREATE TABLE process_samples (
            source_id INTEGER NOT NULL,
            time INTEGER NOT NULL,
            process_id INTEGER NOT NULL,
            cpu REAL,                     -- % of one core; NULL on a process's first sample
            rss INTEGER NOT NULL,
            disk_read REAL,               -- B/s; NULL where the system does not say
            disk_write REAL,
            state TEXT NOT NULL,
            PRIMARY KEY (source_id, time, process_id)
        ) WITHOUT ROWID;
        -- Compacted: per source and raw window, tier 0 holds every sample's list and tier 2 the
        -- top processes of each minute. A rowid table: blocks overflow WITHOUT ROWID pages.
        CREATE TABLE process_chunks (
            id INTEGER PRIMARY KEY,
            source_id INTEGER NOT NULL,
            tier INTEGER NOT NULL,
            start INTEGER NOT NULL,
            end INTEGER NOT NULL,
            times BLOB NOT NULL,
            data BLOB NOT NULL,
            UNIQUE (source_id, tier, start)
        );
        CREATE INDEX process_chunks_by_end ON process_chunks (tier, end);
    """),
    # Pushed points land in a small table first. In `samples`, keyed by series, a request naming
    # 5,000 series dirties 5,000 leaf pages; here it dirties a few dozen. The ingest thread moves
    # them across every second or so, in key order, so each page of `samples` is written once
    # for many rows. Readers see both tables through the `head` view.
    ("0004_incoming", """
        CREATE TABLE incoming (
            series_id INTEGER NOT NULL,
            time INTEGER NOT NULL,
            value REAL NOT NULL,
            PRIMARY KEY (series_id, time)
        ) WITHOUT ROWID;
        CREATE VIEW head AS
            SELECT series_id, time, value FROM samples
            UNION ALL
            SELECT series_id, time, value FROM incoming;
    """),
    # Keyed by series, `incoming` grew the scatter it was made to avoid: while a second's pushes
    # of thousands of series wait there, each insert lands on a different leaf. Keyed by time
    # first, a request's rows append to the end of the tree (and a reader's recent range is one
    # run of it); settling sorts them by series, as before.
    ("0005_incoming_by_time", """
        DROP VIEW head;
        CREATE TABLE incoming_by_time (
            time INTEGER NOT NULL,
            series_id INTEGER NOT NULL,
            value REAL NOT NULL,
            PRIMARY KEY (time, series_id)
        ) WITHOUT ROWID;
        INSERT INTO incoming_by_time SELECT time, series_id, value FROM incoming;
        DROP TABLE incoming;
        ALTER TABLE incoming_by_time RENAME TO incoming;
        CREATE VIEW head AS
            SELECT series_id, time, value FROM samples
            UNION ALL
            SELECT series_id, time, value FROM incoming;
    """),
    # Maintenance reads and folds a raw window before it takes the write lock; writers count
    # their writes into the past here, in their own transactions, so that it can tell whether
    # the window changed meanwhile.
    ("0006_late_writes", """
        CREATE TABLE late_writes (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            count INTEGER NOT NULL
        );
        INSERT INTO late_writes VALUES (1, 0);
    """),
]


class SchemaError(Exception):
    pass


def applied(connection: sqlite3.Connection) -> list[str]:
    has_table = connection.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'migrations'").fetchone()
    if not has_table:
        return []
    return [row[0] for row in connection.execute("SELECT name FROM migrations ORDER BY rowid")]


def statements(script: str) -> list[str]:
    """Split a script into statements, the way SQLite itself judges where one ends."""
    found, start = [], 0
    for end, char in enumerate(script):
        if char == ";" and sqlite3.complete_statement(script[start : end + 1]):
            found.append(script[start : end + 1].strip())
            start = end + 1
    if script[start:].strip():
        found.append(script[start:].strip())
    return found


def migrate(connection: sqlite3.Connection, migrations: list[tuple[str, str]] = MIGRATIONS) -> list[str]:
    """Bring the schema up to date; returns the names newly applied.

    All of it runs in one write transaction, so two processes starting on one new file cannot
    both apply a migration, and a failed migration leaves the schema as it was. The connection
    must be in autocommit mode (isolation_level=None).
    """
    connection.execute("BEGIN IMMEDIATE")
    try:
        done = applied(connection)
        known = [name for name, _ in migrations]
        if not done and connection.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
            raise SchemaError("it holds tables but is not a StatsServer database")
        unknown = [name for name in done if name not in known]
        if unknown:
            raise SchemaError(f"it was made by a newer StatsServer (migration {unknown[0]})")
        connection.execute(
            "CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)")
        new = []
        for name, script in migrations:
            if name in done:
                continue
            for statement in statements(script):
                connection.execute(statement)
            connection.execute("INSERT INTO migrations VALUES (?, ?)", (name, time.time()))
            new.append(name)
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    return new
