"""The catalog: sources, their series and their categories' block groups, as one snapshot.

Every read starts from it, and it changes rarely (a new source, series or category), but SQLite
has no cheaper sign of a change than `PRAGMA data_version`, which moves on every commit by any
other connection. So a reader keeps one snapshot and reads it again after a commit: at most
once a commit, where a query used to read it three times.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property


@dataclass(frozen=True)
class Series:
    id: int
    source: str
    category: str
    label: str
    unit: str
    kind: str
    graph: bool
    description: str

    @cached_property
    def fields(self) -> dict:
        """as_dict, made once: every range query's answer starts from it. Not to be changed."""
        return {"id": self.id, "source": self.source, "category": self.category, "label": self.label,
                "unit": self.unit, "kind": self.kind, "graph": self.graph, "description": self.description}

    def as_dict(self) -> dict:
        return dict(self.fields)


@dataclass(frozen=True)
class Source:
    id: int
    name: str
    interval: float | None  # seconds between samples; None for pushed, irregular data
    series: tuple[Series, ...]  # by category, then id
    groups: dict[str, int]  # category: its group of blocks


class Catalog:
    # Statements that read it all: a catalog has a handful of sources and at most a few
    # thousand series, a few hundred KiB at the very most.
    SOURCES = "SELECT id, name, interval FROM sources ORDER BY id"
    SERIES = ("SELECT series.id, source_id, category, label, unit, kind, graph, description FROM series"
              " ORDER BY category, series.id")
    GROUPS = "SELECT id, source_id, category FROM groups ORDER BY id"

    def __init__(self, sources: list[tuple], series: list[tuple], groups: list[tuple]) -> None:
        names = {source_id: name for source_id, name, _ in sources}
        listed: dict[int, list[Series]] = {source_id: [] for source_id in names}
        for series_id, source_id, category, label, unit, kind, graph, description in series:
            if source_id in listed:
                listed[source_id].append(Series(series_id, names[source_id], category, label, unit, kind,
                                                bool(graph), description))
        grouped: dict[int, dict[str, int]] = {source_id: {} for source_id in names}
        for group_id, source_id, category in groups:
            if source_id in grouped:
                grouped[source_id][category] = group_id
        self.sources = [Source(source_id, name, interval, tuple(listed[source_id]), grouped[source_id])
                        for source_id, name, interval in sources]
        self.by_name = {source.name: source for source in self.sources}

    def series(self, source: str, categories=None) -> list[Series]:
        found = self.by_name.get(source)
        if found is None:
            return []
        if categories is None:
            return list(found.series)
        return [series for series in found.series if series.category in categories]

    def groups(self, source: str, categories=None) -> list[int]:
        found = self.by_name.get(source)
        if found is None:
            return []
        return [group for category, group in found.groups.items() if categories is None or category in categories]
