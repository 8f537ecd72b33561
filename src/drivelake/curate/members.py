"""Selecting members from the lake: frames, time spans or whole drives, by events, SQL or search.

Every selector returns rows in :data:`~drivelake.curate.datasets.MEMBERS` form, with what a
member needs copied in (JPEG bytes, event label, vehicle, detections, a telemetry window), so a
dataset never has to look back into the lake once its members are chosen.

``--where`` predicates see one row per candidate: for frames every column of ``frames`` plus
``vehicle_id``, ``event_id``, ``event_type``, ``severity`` and ``ts`` (the frame's UTC time, so
``hour(ts) >= 20`` means "at night, UTC"); for spans the event's columns plus ``ts`` (its start);
for drives the columns of ``drives`` plus ``ts`` (the drive's start).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from drivelake.curate.datasets import MEMBERS, WINDOW_S, WINDOW_STEP_S
from drivelake.errors import InputError, NotFoundError

if TYPE_CHECKING:
    from drivelake.lake import Lake

KINDS = ("frames", "spans", "drives")


def _listed(values: Sequence[str]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


def _require(lake: Lake, *tables: str) -> None:
    present = set(lake.table_names())
    for table in tables:
        if table not in present:
            raise NotFoundError(f"no {table} table in {lake.uri}: nothing to select {table} from")


def select(
    lake: Lake,
    *,
    kind: str = "frames",
    event_types: Sequence[str] = (),
    where: str | None = None,
    pad_s: float = 0.0,
    source: str,
) -> pa.Table:
    """Members chosen by events (of ``event_types``, padded by ``pad_s``) and/or SQL."""
    if kind not in KINDS:
        raise InputError("--members", f"{kind!r} is not one of {', '.join(KINDS)}")
    filters = [f"({where})"] if where else []
    if event_types:
        filters.append(f"event_type IN ({_listed(event_types)})")
    condition = " AND ".join(filters) or "TRUE"
    if kind == "drives":
        _require(lake, "drives")
        sql = (
            "SELECT drive_id AS member_id, 'drive' AS kind, drive_id, vehicle_id, "
            "0.0 AS start_s, duration_s AS end_s, ts AS t_utc "
            f"FROM (SELECT *, to_timestamp((start_ns + coalesce(utc_offset_ns, 0)) / 1e9) AS ts, "
            f"NULL::VARCHAR AS event_type FROM drives) WHERE {condition}"
        )
    elif kind == "spans":
        _require(lake, "events", "drives")
        sql = (
            "SELECT event_id AS member_id, 'span' AS kind, drive_id, vehicle_id, "
            f"start_s - {pad_s} AS start_s, end_s + {pad_s} AS end_s, ts AS t_utc, "
            "event_id, event_type, lat, lon FROM ("
            "SELECT e.*, e.type AS event_type, d.vehicle_id, "
            "to_timestamp(e.start_utc_ns / 1e9) AS ts FROM events e "
            f"JOIN drives d USING (drive_id)) WHERE {condition}"
        )
    else:
        _require(lake, "frames", "drives")
        events = "events" in lake.table_names()
        event_cols = (
            "e.event_id, e.type AS event_type, e.severity, e.start_s AS event_start_s"
            if events
            else "NULL::VARCHAR AS event_id, NULL::VARCHAR AS event_type, "
            "NULL::VARCHAR AS severity, NULL::DOUBLE AS event_start_s"
        )
        join = (
            "LEFT JOIN events e ON e.drive_id = f.drive_id AND "
            f"f.t_s BETWEEN e.start_s - {pad_s} AND e.end_s + {pad_s}"
            if events
            else ""
        )
        sql = (
            "SELECT frame_id AS member_id, 'frame' AS kind, drive_id, vehicle_id, frame_id, "
            "video_id, t_s, t_s AS start_s, t_s AS end_s, t_utc, event_id, event_type, lat, lon, "
            "speed_mps, width, height, thumbnail AS image FROM ("
            f"SELECT f.*, d.vehicle_id, f.t_utc AS ts, {event_cols} FROM frames f "
            f"JOIN drives d ON d.drive_id = f.drive_id {join}) WHERE {condition} "
            "QUALIFY row_number() OVER (PARTITION BY frame_id ORDER BY event_start_s, event_id) = 1"
        )
    rows = lake.sql(sql)
    return complete(lake, rows, source=source)


def frames_in_spans(lake: Lake, spans: pa.Table, *, source: str) -> pa.Table:
    """Frame members inside (drive_id, start_s, end_s) spans, each carrying its span's score."""
    _require(lake, "frames", "drives")
    if not spans.num_rows:
        return complete(lake, pa.table({"member_id": pa.array([], pa.string())}), source=source)
    con = lake.connect()
    try:
        con.register("spans", spans.select(["drive_id", "start_s", "end_s", "score"]))
        rows = con.sql(
            "SELECT f.frame_id AS member_id, 'frame' AS kind, f.drive_id, d.vehicle_id, "
            "f.frame_id, f.video_id, f.t_s, f.t_s AS start_s, f.t_s AS end_s, f.t_utc, "
            "f.lat, f.lon, f.speed_mps, f.width, f.height, f.thumbnail AS image, "
            "max(s.score) AS score FROM frames f JOIN drives d ON d.drive_id = f.drive_id "
            "JOIN spans s ON s.drive_id = f.drive_id AND f.t_s BETWEEN s.start_s AND s.end_s "
            "GROUP BY ALL"
        ).to_arrow_table()
    finally:
        con.close()
    return complete(lake, rows, source=source)


def complete(lake: Lake, rows: pa.Table, *, source: str) -> pa.Table:
    """Fill in the columns a selector did not: hashes, telemetry windows, boxes, source."""
    n = rows.num_rows
    columns: dict[str, Any] = {}
    for field in MEMBERS:
        if field.name in rows.column_names:
            columns[field.name] = rows.column(field.name).cast(field.type)
        else:
            columns[field.name] = pa.nulls(n, field.type)
    columns["source"] = pa.array([source] * n, pa.string())
    columns["content_sha256"] = pa.array(
        [_content_hash(r) for r in pa.table(columns).select(["member_id", "image"]).to_pylist()]
    )
    frames = rows.column("frame_id").to_pylist() if "frame_id" in rows.column_names else []
    if any(frames):
        speed, g = _telemetry_windows(lake, pa.table(columns))
        columns["speed_window"], columns["g_window"] = speed, g
        columns["boxes"] = _boxes(lake, frames)
    return pa.table(columns, schema=MEMBERS)


def _content_hash(row: dict[str, Any]) -> str:
    data = row["image"] if row["image"] is not None else row["member_id"].encode()
    return hashlib.sha256(data).hexdigest()


def _telemetry_windows(lake: Lake, members: pa.Table) -> tuple[pa.Array, pa.Array]:
    """Speed and horizontal g around each frame, read once per drive."""
    from drivelake.video.telemetry import DriveTelemetry

    offsets = np.arange(-WINDOW_S, WINDOW_S + WINDOW_STEP_S / 2, WINDOW_STEP_S)
    drive_ids = members.column("drive_id").to_pylist()
    times = members.column("t_s").to_pylist()
    speed: list[list[float] | None] = [None] * len(drive_ids)
    g: list[list[float] | None] = [None] * len(drive_ids)
    for drive_id in sorted(set(drive_ids)):
        telemetry = DriveTelemetry.load(lake, drive_id)
        idx = [i for i, d in enumerate(drive_ids) if d == drive_id and times[i] is not None]
        if not idx:
            continue
        grid = np.asarray([times[i] for i in idx])[:, None] + offsets[None, :]
        s = telemetry.speed_at(grid.ravel()).reshape(grid.shape)
        a = telemetry.g_force_at(grid.ravel()).reshape(grid.shape)
        for row, i in enumerate(idx):
            speed[i], g[i] = s[row].tolist(), a[row].tolist()
    return pa.array(speed, pa.list_(pa.float32())), pa.array(g, pa.list_(pa.float32()))


def _boxes(lake: Lake, frame_ids: list[str | None]) -> pa.Array:
    """Each frame's detections (every model's), as boxes in the thumbnail's pixels."""
    by_frame: dict[str, list[dict[str, Any]]] = {}
    if "detections" in lake.table_names():
        wanted = [f for f in frame_ids if f]
        rows = lake.sql(
            "SELECT frame_id, label, score, x0, y0, x1, y1 FROM detections "
            f"WHERE frame_id IN ({_listed(wanted)}) ORDER BY frame_id, label, score DESC, x0, y0"
        ).to_pylist()
        for r in rows:
            by_frame.setdefault(r.pop("frame_id"), []).append(r)
    return pa.array(
        [by_frame.get(f, []) if f else None for f in frame_ids], MEMBERS.field("boxes").type
    )


def model_revisions(lake: Lake, table: str) -> list[dict[str, str]]:
    """The (model, revision) pairs present in a model-output table, for the recipe."""
    if table not in lake.table_names():
        return []
    rows = lake.sql(f"SELECT DISTINCT model, revision FROM {table} ORDER BY 1, 2")
    return rows.to_pylist()
