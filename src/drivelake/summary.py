"""What ``drivelake show`` says about a drive, gathered from every table that mentions it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from drivelake.lake import Lake


def describe_drive(lake: Lake, drive_id: str) -> dict[str, Any]:
    """A drive's catalogue facts plus counts from the other tables (tags, events, frames …)."""
    d = lake.drive(drive_id)
    info: dict[str, Any] = {
        "drive_id": d["drive_id"],
        "vehicle_id": d["vehicle_id"],
        "source_format": d["source_format"],
        "source_frame": d["source_frame"],
        "synthetic": d["synthetic"],
        "start_utc": d["start_utc"],
        "end_utc": d["end_utc"],
        "duration_s": d["duration_s"],
        "distance_m": d["distance_m"],
        "bounds": [d["min_lat"], d["min_lon"], d["max_lat"], d["max_lon"]]
        if d["min_lat"] is not None
        else None,
        "streams": d["stream_stats"],
        "sources": d["source_files"],
        "videos": d["videos"],
        "repairs": d["repairs"],
    }
    tags = lake.tags(d["drive_id"])
    info["tags"] = (
        tags.select(["kind", "text", "t_s", "author"]).to_pylist() if tags.num_rows else []
    )
    for table in ("events", "frames", "videos"):
        ds = lake.dataset(table)
        if ds is not None and "drive_id" in ds.schema.names:
            info[f"{table}_count"] = ds.count_rows(filter=f"drive_id = '{d['drive_id']}'")
    cal = lake.dataset("calibrations")
    if cal is not None:
        spans = cal.to_table(filter=f"drive_id = '{d['drive_id']}'").to_pylist()
        if spans:
            total = sum(s["end_s"] - s["start_s"] for s in spans) or 1.0
            info["calibration"] = (
                f"{spans[0]['method']}: {len(spans)} span(s), quality "
                f"{sum(s['quality'] * (s['end_s'] - s['start_s']) for s in spans) / total:.2f}"
            )
    from drivelake.events.store import roughness_summary

    if rough := roughness_summary(lake, d["drive_id"]):
        info["roughness"] = rough
    return info
