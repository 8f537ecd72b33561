"""Grouping matching frames into time spans per drive: what a person wants back from a search.

Matches of one drive whose times are within ``gap_s`` of each other merge into one span
(adjacent sampled frames of the same scene); a span scores as its best frame and shows that
frame. Without an explicit gap, each drive's is 1.5x its median spacing of sampled frames, so
"adjacent" means neighbouring samples whatever the sampling rate.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

DEFAULT_GAP_S = 2.0
_SPACING_FACTOR = 1.5

SPAN_SCHEMA = pa.schema(
    [
        ("drive_id", pa.string()),
        ("start_s", pa.float64()),
        ("end_s", pa.float64()),
        ("score", pa.float32()),
        ("matches", pa.int32()),
        ("frame_id", pa.string()),  # the best-scoring frame of the span (null for a drive tag)
        ("source", pa.string()),
        ("text", pa.string()),
    ]
)


def drive_gaps(frame_times: dict[str, np.ndarray]) -> dict[str, float]:
    """Per drive, the gap that still counts as adjacent: 1.5x the median frame spacing."""
    gaps = {}
    for drive, times in frame_times.items():
        diffs = np.diff(np.unique(times))
        gaps[drive] = float(np.median(diffs)) * _SPACING_FACTOR if len(diffs) else DEFAULT_GAP_S
    return gaps


def group_spans(hits: pa.Table, gaps: dict[str, float] | float) -> pa.Table:
    """Merge hits (drive_id, t_s, score, frame_id, source, text) into spans, best first."""
    spans: list[dict] = []
    rows = sorted(
        hits.to_pylist(), key=lambda r: (r["drive_id"], r["t_s"] is None, r["t_s"] or 0.0)
    )
    current: dict | None = None
    for row in rows:
        gap = gaps.get(row["drive_id"], DEFAULT_GAP_S) if isinstance(gaps, dict) else gaps
        t = row["t_s"]
        joins = (
            current is not None
            and t is not None
            and current["drive_id"] == row["drive_id"]
            and current["end_s"] is not None
            and t - current["end_s"] <= gap
        )
        if joins:
            current["end_s"] = t
            current["matches"] += 1
            if row["score"] > current["score"]:
                current.update(
                    score=row["score"],
                    frame_id=row["frame_id"],
                    source=row["source"],
                    text=row["text"],
                )
            continue
        current = {
            "drive_id": row["drive_id"],
            "start_s": t,
            "end_s": t,
            "score": row["score"],
            "matches": 1,
            "frame_id": row["frame_id"],
            "source": row["source"],
            "text": row["text"],
        }
        spans.append(current)
    spans.sort(key=lambda s: -s["score"])
    return pa.Table.from_pylist(spans, schema=SPAN_SCHEMA)
