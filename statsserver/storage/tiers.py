"""The resolutions the store keeps, declared as data: adding a tier is adding a row here.

Tier 0 is raw: samples as they were taken, compacted into blocks of one window (`span_ms`).
Each rollup tier keeps, per series and per bucket of `step_ms`, the min, max, sum and count of
the raw samples in it, so that averages merge exactly and spikes survive. Rollup buckets are
filled while the head is compacted, then packed into chunks of `span_ms` each.

The steps form a ladder about six apart, because the query planner reads the coarsest tier that
still gives the asked number of points: with a ratio of six it never decodes more than about six
entries per point drawn, whatever the range (1 h reads raw, 1 d the 1-minute tier, 30 d the
30-minute tier, a year the 8-hour tier).

`keep` names the setting ([generator] keep_raw, keep_minutes, keep_hours) that bounds how long
the tier is kept; the 10-second tier goes with raw, because it only serves ranges raw could.
"""

from __future__ import annotations

from dataclasses import dataclass

SECOND = 1000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR


@dataclass(frozen=True)
class Tier:
    number: int  # stored in the chunks table; never renumber a shipped tier
    name: str
    step_ms: int  # bucket width; 0 for raw samples
    span_ms: int  # time covered by one chunk of this tier
    keep: str  # the retention setting in [generator]


# 20 minutes: an hour's chart reads three or four blocks per category, and 1,200 samples a row
# compress better than 600; the price is re-encoding a larger open window each minute.
RAW = Tier(0, "raw", 0, 20 * MINUTE, "keep_raw")
# About 720 buckets a chunk: a chart reads two or three blocks, and retention, which deletes
# whole chunks, overshoots by at most one span.
ROLLUPS: tuple[Tier, ...] = (
    Tier(1, "10s", 10 * SECOND, 2 * HOUR, "keep_raw"),
    Tier(2, "1m", MINUTE, 12 * HOUR, "keep_minutes"),
    Tier(3, "5m", 5 * MINUTE, 2 * DAY, "keep_minutes"),
    Tier(4, "30m", 30 * MINUTE, 15 * DAY, "keep_hours"),
    Tier(5, "2h", 2 * HOUR, 60 * DAY, "keep_hours"),
    Tier(6, "8h", 8 * HOUR, 240 * DAY, "keep_hours"),
)
TIERS: tuple[Tier, ...] = (RAW, *ROLLUPS)
BY_NUMBER = {tier.number: tier for tier in TIERS}

# Head rows are compacted once they are this old, so that a sample taken a moment ago and
# stored a moment later (by the collector, or pushed to the server) still lands in the head.
# Later arrivals are merged into their window's block; the margin only makes them rare.
COMPACTION_MARGIN_MS = 30 * SECOND

# Head rows are moved into their (possibly still open) window's block in steps of this much, so
# the head stays short: queries read it row by row.
HEAD_MS = MINUTE

# A rollup tier's open chunk is rewritten once this many complete buckets wait in the rollups
# table, or once the oldest has waited ROLLUP_WAIT_MS, so that table stays small (queries read it
# row by row) without re-encoding a chunk at every bucket.
ROLLUP_BATCH = 30
ROLLUP_WAIT_MS = HOUR

# Defaults of the retention settings, in seconds.
DEFAULT_KEEP = {"keep_raw": 7 * 86400, "keep_minutes": 90 * 86400, "keep_hours": 5 * 365 * 86400}


def retention(keep: dict[str, float], max_age: float | None = None) -> dict[int, int]:
    """{tier number: milliseconds kept} from the keep_* settings, each capped by max_age."""
    kept = {}
    for tier in TIERS:
        seconds = keep.get(tier.keep, DEFAULT_KEEP[tier.keep])
        if max_age is not None:
            seconds = min(seconds, max_age)
        kept[tier.number] = int(seconds * 1000)
    return kept


def window_start(time_ms: int, span_ms: int) -> int:
    return time_ms - time_ms % span_ms
