"""Answers to range queries, kept until the database changes.

Several browsers on one dashboard, a wall display and a phone, or zooming back out, ask for the
same range again; a query over a month costs milliseconds, an answer from here microseconds.
Nothing is ever stale: SQLite's `data_version` moves on every commit by any connection, of this
process or another (the collector), and an entry made before that commit is not used.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Hashable

from ..storage.database import open_for_reading

# Answers are a few to a few hundred KiB: at most a few MiB in all.
ENTRIES = 64


class AnswerCache:
    def __init__(self, path: Path, entries: int = ENTRIES) -> None:
        self.path = path
        self.entries = entries
        self._answers: OrderedDict[Hashable, tuple[int, bytes]] = OrderedDict()
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None

    def version(self) -> int | None:
        """The database's change counter as this process sees it; None while there is no database."""
        with self._lock:
            try:
                if self._db is None:
                    self._db = open_for_reading(self.path)
                return self._db.execute("PRAGMA data_version").fetchone()[0]
            except Exception:  # no database yet, or it went away: answer uncached
                self._db = None
                return None

    def get(self, key: Hashable, version: int | None) -> bytes | None:
        if version is None:
            return None
        with self._lock:
            found = self._answers.get(key)
            if found is None or found[0] != version:
                return None
            self._answers.move_to_end(key)
            return found[1]

    def put(self, key: Hashable, version: int | None, answer: bytes) -> None:
        """Keep `answer`, computed after `version` was read: an answer read before a commit is
        never filed under the version after it."""
        if version is None:
            return
        with self._lock:
            self._answers[key] = (version, answer)
            self._answers.move_to_end(key)
            while len(self._answers) > self.entries:
                self._answers.popitem(last=False)

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
