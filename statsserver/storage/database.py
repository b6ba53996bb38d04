"""Opening the SQLite file: WAL for the one writer, read-only connections for readers."""

from __future__ import annotations

import logging
import sqlite3
import threading
from functools import lru_cache
from pathlib import Path

from .migrations import SchemaError, migrate

# How long a statement waits for another connection's lock (a checkpoint, a second process
# migrating) before giving up, in milliseconds.
BUSY_TIMEOUT_MS = 10_000

log = logging.getLogger(__name__)


class StoreError(Exception):
    """The database cannot be used. The message names the file and is meant for the user."""


def open_for_writing(path: Path) -> sqlite3.Connection:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    except (sqlite3.Error, OSError) as error:
        raise StoreError(f"{path}: cannot be opened for writing: {error}") from None
    try:
        connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        # Migrations first: they refuse a file that is not ours before anything is written to
        # it (switching to WAL rewrites the header of whatever file it is).
        migrate(connection)
        connection.execute("PRAGMA journal_mode = WAL")
        # In WAL mode NORMAL never corrupts the file; a power cut may lose the last commits,
        # a killed process loses nothing committed.
        connection.execute("PRAGMA synchronous = NORMAL")
    except SchemaError as error:
        connection.close()
        raise StoreError(f"{path}: cannot be used: {error}") from None
    except (sqlite3.Error, OSError) as error:
        connection.close()
        raise StoreError(f"{path}: cannot be opened for writing: {error}") from None
    return connection


def open_for_reading(path: Path) -> sqlite3.Connection:
    if not path.is_file():
        raise StoreError(f"{path}: no database here yet; start the collector first")
    try:
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True,
                                     isolation_level=None, check_same_thread=False)
        connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        names = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    except sqlite3.Error as error:
        raise StoreError(f"{path}: cannot be opened for reading: {error}") from None
    if "migrations" not in names:
        raise StoreError(f"{path}: cannot be used: it is not a StatsServer database")
    return connection


# executemany binds and steps one row at a time; a statement of many rows costs about a third as
# much per row, which is most of what a pushed point, or a compacted bucket, costs.
ROWS_PER_STATEMENT = 100


def insert_rows(db: sqlite3.Connection, statement: str, columns: list[list]) -> None:
    """Rows given column by column (lists of the same length), through `statement`, whose
    VALUES is a `{}`: ROWS_PER_STATEMENT rows a statement, then the rest one at a time."""
    count, width = len(columns[0]), len(columns)
    whole = count - count % ROWS_PER_STATEMENT
    if whole:
        fields = [None] * (width * whole)
        for place, column in enumerate(columns):
            fields[place::width] = column[:whole] if whole < count else column
        step = width * ROWS_PER_STATEMENT
        db.executemany(_many_rows(statement, width, ROWS_PER_STATEMENT),
                       [fields[at:at + step] for at in range(0, len(fields), step)])
    if whole < count:
        db.executemany(_many_rows(statement, width, 1), zip(*(column[whole:] for column in columns)))


@lru_cache(maxsize=64)
def _many_rows(statement: str, width: int, rows: int) -> str:
    return statement.format(", ".join(["(" + ", ".join("?" * width) + ")"] * rows))


def to_ms(seconds: float) -> int:
    return int(round(seconds * 1000))


class Checkpoints:
    """Copies the write-ahead log into the database file from a thread and connection of their own.

    SQLite's automatic checkpoint runs inside the commit that passes its threshold: the writer
    committing then waits for the copy and its fsync, a fifth of what a pushed point costs. A
    busy writer turns it off (`PRAGMA wal_autocheckpoint = 0`) and lets this run beside it: a
    passive checkpoint waits for no writer or reader, and none waits for it.
    """

    def __init__(self, path: Path, every_seconds: float = 1.0) -> None:
        self.path = path
        self.every_seconds = every_seconds
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="checkpoints", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        failing = False
        while not self._stop.wait(self.every_seconds):
            try:
                self._db.execute("PRAGMA wal_checkpoint(PASSIVE)")
                failing = False
            except sqlite3.Error as error:
                if not failing:  # once, not every second of a full disk
                    log.warning("checkpoint of %s failed: %s; trying again", self.path, error)
                failing = True

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._db.close()
