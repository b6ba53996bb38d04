"""Answers to range queries, kept until the database changes.

Several browsers on one dashboard, a wall display and a phone, or zooming back out, ask for the
same range again; a query over a month costs milliseconds, an answer from here microseconds.
Nothing is ever stale: SQLite's `data_version` moves on every commit by any connection, of this
process or another (the collector), and an entry made before that commit is not used. The
version is the event loop's reader's, read by its catalog check: one connection's numbering
for every entry.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Hashable

# Answers are a few to a few hundred KiB: at most a few MiB in all.
ENTRIES = 64


class AnswerCache:
    def __init__(self, entries: int = ENTRIES) -> None:
        self.entries = entries
        self._answers: OrderedDict[Hashable, tuple[int, bytes]] = OrderedDict()
        self._lock = threading.Lock()

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
