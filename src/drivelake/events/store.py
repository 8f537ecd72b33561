"""Detection over the lake: incremental, idempotent runs whose results are lake tables.

Tables (all carry ``run_id`` = detector version + config hash, so a run with another config is a
separate run and never mixes with the old one):

* ``events`` — one row per event;
* ``roughness`` — per drive, one row per ~100 m of road: the roughness index (RMS m/s²);
* ``event_coverage`` — per drive and type: analysable or not, with the reason;
* ``calibrations`` — per drive: the sensor -> vehicle rotation per time span with its quality;
* ``event_runs`` — one row per (run, drive), written *last* (per batch of drives): a drive
  counts as done for a run only when this row exists, so an interrupted run is finished by the
  next one (which first deletes what it left unfinished), and a repeated run writes nothing (no
  new table versions).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from drivelake.events.config import DETECTOR_VERSION, EventConfig, load_config
from drivelake.events.detectors import TYPES, detect_motion, peak_floors
from drivelake.events.quality import coverage
from drivelake.events.roughness import roughness_segments
from drivelake.events.zones import speed_limits
from drivelake.schema import FRAME_EARTH_ENU
from drivelake.signals.motion import ANALYSIS_HZ, vehicle_motion
from drivelake.signals.resample import median_rate_hz, resample, uniform_grid
from drivelake.signals.speed import fuse_speed

if TYPE_CHECKING:
    from drivelake.lake import Lake

UTC_NS = pa.timestamp("ns", tz="UTC")
EVENTS = pa.schema(
    [
        ("event_id", pa.string()),
        ("run_id", pa.string()),
        ("drive_id", pa.string()),
        ("type", pa.string()),
        ("direction", pa.string()),
        ("start_utc_ns", pa.int64()),
        ("end_utc_ns", pa.int64()),
        ("start_s", pa.float64()),
        ("end_s", pa.float64()),
        ("peak", pa.float64()),
        ("unit", pa.string()),
        ("severity", pa.string()),
        ("confidence", pa.float64()),
        ("lat", pa.float64()),
        ("lon", pa.float64()),
        ("detector_version", pa.string()),
        ("config_hash", pa.string()),
        ("zone", pa.string()),  # speeding: the geofence whose limit was exceeded
    ]
)
ROUGHNESS = pa.schema(
    [
        ("run_id", pa.string()),
        ("drive_id", pa.string()),
        ("segment", pa.int32()),
        ("start_s", pa.float64()),
        ("end_s", pa.float64()),
        ("distance_m", pa.float64()),
        ("speed_mps", pa.float64()),
        ("roughness_mps2", pa.float64()),
        ("lat", pa.float64()),
        ("lon", pa.float64()),
        ("detector_version", pa.string()),
        ("config_hash", pa.string()),
    ]
)
COVERAGE = pa.schema(
    [
        ("run_id", pa.string()),
        ("drive_id", pa.string()),
        ("type", pa.string()),
        ("analysable", pa.bool_()),
        ("reason", pa.string()),
    ]
)
CALIBRATIONS = pa.schema(
    [
        ("drive_id", pa.string()),
        ("span", pa.int32()),
        ("start_s", pa.float64()),
        ("end_s", pa.float64()),
        ("rotation", pa.list_(pa.float64(), 9)),
        ("yaw_offset_deg", pa.float64()),
        ("quality", pa.float64()),
        ("method", pa.string()),
        ("source_frame", pa.string()),
    ]
)
RUNS = pa.schema(
    [
        ("run_id", pa.string()),
        ("drive_id", pa.string()),
        ("config_hash", pa.string()),
        ("detector_version", pa.string()),
        ("config_json", pa.string()),
        ("events", pa.int64()),
        ("finished_at", UTC_NS),
    ]
)


def run_id_of(config: EventConfig) -> str:
    return f"v{DETECTOR_VERSION}-{config.hash}"


def done_drives(lake: Lake, run_id: str) -> set[str]:
    ds = lake.dataset("event_runs")
    if ds is None:
        return set()
    table = ds.to_table(columns=["drive_id"], filter=f"run_id = '{run_id}'")
    return set(table.column("drive_id").to_pylist())


#: Drives whose results are written together: each table gains one version per batch of
#: drives, not one per drive (a Lance commit costs milliseconds and its version is kept).
WRITE_BATCH = 64


@dataclass
class DriveResult:
    """One drive's detection as rows of each table: computed in a worker, written by the caller."""

    drive_id: str
    events: list[dict]
    roughness: list[dict]
    coverage: list[dict]
    calibration: list[dict]
    run: dict


def detect(
    lake: Lake,
    drive_ids: list[str] | None = None,
    *,
    config: EventConfig | str | os.PathLike[str] | None = None,
    jobs: int = 1,
) -> dict[str, Any]:
    """Detect events on the given drives (default: all) not yet done for this config's run.

    Drives are analysed in ``jobs`` worker processes and written in batches of
    :data:`WRITE_BATCH`: every table's rows first, the batch's ``event_runs`` rows last. Rows of
    a batch that was interrupted before its run rows were never visible (the views and
    :func:`events` read only finished runs); the next run of the same config deletes them
    before it redoes those drives, so they never show twice. One ``detect`` per config runs at
    a time on a local lake (a lock); another config's run goes on beside it.

    Returns ``{"run_id", "processed", "skipped", "events"}``.
    """
    from drivelake.engine import get_engine

    cfg = config if isinstance(config, EventConfig) else load_config(config)
    run_id = run_id_of(cfg)
    wanted = drive_ids or lake.drives(columns=["drive_id"]).column("drive_id").to_pylist()
    wanted = [lake.resolve_drive_id(d) for d in wanted]
    with lake.lock(f"detect-{run_id}"):
        done = done_drives(lake, run_id)
        todo = [d for d in wanted if d not in done]
        total = 0
        if todo:
            _add_missing_columns(lake, "events", EVENTS)
            # the runs table exists before any row does: rows with no runs table at all are
            # read as imported from elsewhere, all shown
            if lake.dataset("event_runs") is None:
                lake.append("event_runs", RUNS.empty_table(), message="create")
            _drop_unfinished(lake, run_id, done)
            calibrated = _calibrated_drives(lake)
            batch: list[DriveResult] = []
            items = [(lake.uri, d, cfg) for d in todo]
            for _, result in get_engine("local", jobs).map(_detect_one, items):
                batch.append(result)
                total += len(result.events)
                if len(batch) >= WRITE_BATCH:
                    _write_batch(lake, run_id, batch, calibrated)
                    batch = []
            if batch:
                _write_batch(lake, run_id, batch, calibrated)
    return {
        "run_id": run_id,
        "processed": len(todo),
        "skipped": len(wanted) - len(todo),
        "events": total,
    }


def _drop_unfinished(lake: Lake, run_id: str, done: set[str]) -> None:
    """Delete the rows an interrupted run of ``run_id`` wrote for drives it did not finish."""
    quoted = run_id.replace("'", "''")
    for name in ("events", "roughness", "event_coverage"):
        ds = lake.dataset(name)
        if ds is None:
            continue
        found = ds.to_table(columns=["drive_id"], filter=f"run_id = '{quoted}'")
        if unfinished := set(found.column("drive_id").to_pylist()) - done:
            ids = ", ".join(f"'{d}'" for d in sorted(unfinished))
            ds.delete(f"run_id = '{quoted}' AND drive_id IN ({ids})")


def _calibrated_drives(lake: Lake) -> set[str]:
    ds = lake.dataset("calibrations")
    if ds is None:
        return set()
    return set(ds.to_table(columns=["drive_id"]).column("drive_id").to_pylist())


def _write_batch(lake: Lake, run_id: str, batch: list[DriveResult], calibrated: set[str]) -> None:
    """The batch's rows, table by table, then its run rows: the commit that makes them visible.

    A calibration depends on the data only, so each drive's is stored once, whatever the run.
    """
    new = [r for b in batch if b.drive_id not in calibrated for r in b.calibration]
    if new:
        table = pa.Table.from_pylist(new, schema=CALIBRATIONS)
        lake.append("calibrations", table, message="calibration")
        calibrated.update(b.drive_id for b in batch)
    for name, schema, rows in (
        ("events", EVENTS, [r for b in batch for r in b.events]),
        ("roughness", ROUGHNESS, [r for b in batch for r in b.roughness]),
        ("event_coverage", COVERAGE, [r for b in batch for r in b.coverage]),
    ):
        if rows:
            lake.append(name, pa.Table.from_pylist(rows, schema=schema), message=f"{name} {run_id}")
    runs = pa.Table.from_pylist([b.run for b in batch], schema=RUNS)
    lake.append("event_runs", runs, message=f"run {run_id}: {len(batch)} drives")


@functools.lru_cache(maxsize=4)
def _open(uri: str) -> Lake:
    """The lake, opened once per worker process: its catalogue cache then serves every drive."""
    import drivelake

    return drivelake.open(uri, create=False)


def _detect_one(item: tuple[str, str, EventConfig]) -> DriveResult:
    """One drive, one run: calibrate and detect; the rows of every table, unwritten."""
    uri, drive_id, cfg = item
    lake = _open(uri)
    drive = lake.drive(drive_id)
    run_id = run_id_of(cfg)
    thresholds = cfg.thresholds(drive["metadata"].get("vehicle_class"))
    streams = lake.streams(drive_id, ("accel", "gyro", "gnss", "can"))
    cover, motion, grid = analyse(drive, streams, thresholds)
    rows: list[dict] = []
    rough: list[dict] = []
    calibration: list[dict] = []
    if motion is not None:
        calibration = _calibration_rows(drive, motion)
        ok_types = {t for t, (ok, _) in cover.items() if ok}
        lat, lon = positions_on_grid(streams.get("gnss"), grid)
        limits = None
        if cfg.zones:
            default = thresholds["speed_limit_kmh"]
            limits = speed_limits(cfg.zones, thresholds["vehicle_class"], lat, lon, default)
        cands = detect_motion(motion, thresholds, ok_types, limits)
        rows = [_event_row(drive, run_id, cfg, c, grid, lat, lon) for c in cands]
        if cover["roughness"][0]:
            seg = roughness_segments(motion, thresholds)
            rough = [
                _span_row(drive, run_id, cfg, i0, i1, grid, lat, lon)
                | {"segment": k, "distance_m": d, "speed_mps": v, "roughness_mps2": r}
                for k, (i0, i1, d, v, r) in enumerate(
                    zip(
                        seg.i0.tolist(),
                        seg.i1.tolist(),
                        np.round(seg.distance_m, 1).tolist(),
                        np.round(seg.speed_mps, 2).tolist(),
                        np.round(seg.rms_mps2, 4).tolist(),
                        strict=True,
                    )
                )
            ]
    cov = [
        {"run_id": run_id, "drive_id": drive_id, "type": t, "analysable": ok, "reason": why}
        for t, (ok, why) in cover.items()
    ]
    run = {
        "run_id": run_id,
        "drive_id": drive_id,
        "config_hash": cfg.hash,
        "detector_version": DETECTOR_VERSION,
        "config_json": json.dumps(thresholds, sort_keys=True),
        "events": len(rows),
        "finished_at": datetime.now(UTC),
    }
    return DriveResult(drive_id, rows, rough, cov, calibration, run)


def analyse(drive: dict, streams: dict[str, pa.Table | None], cfg: dict):
    """Coverage per type, and the drive's Motion on the analysis grid (None if not analysable)."""
    accel, gyro = streams.get("accel"), streams.get("gyro")
    cover = coverage(accel, gyro, streams.get("gnss"), streams.get("can"), cfg)
    if accel is None or gyro is None or not any(ok for ok, _ in cover.values()):
        return cover, None, None
    t_a, t_g = accel.column("t_ns").to_numpy(), gyro.column("t_ns").to_numpy()
    rate = max(ANALYSIS_HZ, ANALYSIS_HZ * round(median_rate_hz(t_a) / ANALYSIS_HZ))
    grid = uniform_grid(max(t_a[0], t_g[0]), min(t_a[-1], t_g[-1]), rate)
    vec = lambda t, cols: np.stack([t.column(c).to_numpy(zero_copy_only=False) for c in cols], 1)  # noqa: E731
    # float32 from here: far finer than any IMU, and half the bytes through every pass
    gap, f32 = cfg["max_gap_s"], np.float32
    a, g = vec(accel, ("ax", "ay", "az")), vec(gyro, ("gx", "gy", "gz"))
    if np.array_equal(t_a, t_g):  # one IMU clock (the usual case): one resampling for both
        both = resample(t_a, np.concatenate([a, g], axis=1), grid, max_gap_s=gap, dtype=f32)
        a, g = np.ascontiguousarray(both[:, :3]), np.ascontiguousarray(both[:, 3:])
    else:
        a = resample(t_a, a, grid, max_gap_s=gap, dtype=f32)
        g = resample(t_g, g, grid, max_gap_s=gap, dtype=f32)
    tracked = drive["source_frame"] == FRAME_EARTH_ENU
    motion = vehicle_motion(a, g, rate, heading_tracked=tracked, **peak_floors(cfg))
    factor = round(rate / motion.rate_hz)
    grid10 = grid[::factor][: len(motion.yaw_rate)]
    speed_src = streams["can"] if streams.get("can") is not None else streams.get("gnss")
    if speed_src is not None:
        t_s = speed_src.column("t_ns").to_numpy()
        v = speed_src.column("speed_mps").to_numpy(zero_copy_only=False).astype(float)
        motion.speed = fuse_speed(
            t_s, v, grid10, motion.accel[:, 0], max_gap_s=cfg["speed_max_gap_s"]
        )
    return cover, motion, grid10


#: Fixes further apart than this say nothing about where the vehicle was in between.
POSITION_GAP_S = 10.0


def positions_on_grid(gnss: pa.Table | None, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Latitude and longitude at the analysis grid's times: NaN where no fix is near."""
    if gnss is None or not gnss.num_rows:
        return np.full(len(grid), np.nan), np.full(len(grid), np.nan)
    t = gnss.column("t_ns").to_numpy()
    lat, lon = (gnss.column(c).to_numpy(zero_copy_only=False).astype(float) for c in ("lat", "lon"))
    ok = np.isfinite(lat) & np.isfinite(lon)
    both = resample(t[ok], np.stack([lat[ok], lon[ok]], 1), grid, max_gap_s=POSITION_GAP_S)
    return both[:, 0], both[:, 1]


def _span_row(drive, run_id, cfg, i0, i1, grid, lat, lon) -> dict:
    """What every row about a span of a drive says: times, position at its middle, the run."""
    t0, t1 = int(grid[i0]), int(grid[min(i1, len(grid)) - 1])
    mid = (i0 + min(i1, len(grid)) - 1) // 2
    return {
        "run_id": run_id,
        "drive_id": drive["drive_id"],
        "start_s": round((t0 - drive["start_ns"]) / 1e9, 3),
        "end_s": round((t1 - drive["start_ns"]) / 1e9, 3),
        "lat": float(lat[mid]) if np.isfinite(lat[mid]) else None,
        "lon": float(lon[mid]) if np.isfinite(lon[mid]) else None,
        "detector_version": DETECTOR_VERSION,
        "config_hash": cfg.hash,
    }


def _event_row(drive, run_id, cfg, c, grid, lat, lon) -> dict:
    row = _span_row(drive, run_id, cfg, c.i0, c.i1, grid, lat, lon)
    t0, t1 = int(grid[c.i0]), int(grid[min(c.i1, len(grid)) - 1])
    offset = drive.get("utc_offset_ns")
    key = f"{run_id}|{drive['drive_id']}|{c.type}|{c.direction}|{t0}"
    return row | {
        "event_id": hashlib.sha256(key.encode()).hexdigest()[:16],
        "type": c.type,
        "direction": c.direction,
        "start_utc_ns": None if offset is None else t0 + offset,
        "end_utc_ns": None if offset is None else t1 + offset,
        "peak": round(c.peak, 4),
        "unit": c.unit,
        "severity": c.severity,
        "confidence": round(c.confidence, 3),
        "zone": c.zone,
    }


def _add_missing_columns(lake: Lake, name: str, schema: pa.Schema) -> None:
    """A table written by an older version gains the newer (nullable) columns, empty."""
    ds = lake.dataset(name)
    if ds is not None and (missing := [f for f in schema if f.name not in ds.schema.names]):
        ds.add_columns(missing)


def _calibration_rows(drive: dict, motion) -> list[dict]:
    """The drive's calibration spans as ``calibrations`` rows."""
    return [
        {
            "drive_id": drive["drive_id"],
            "span": i,
            "start_s": s.start_s,
            "end_s": s.end_s,
            "rotation": s.rotation.ravel().tolist(),
            "yaw_offset_deg": s.yaw_offset_deg,
            "quality": s.quality,
            "method": s.method,
            "source_frame": drive["source_frame"],
        }
        for i, s in enumerate(motion.calibration.spans)
    ]


def events(
    lake: Lake, drive_id: str | None = None, type: str | None = None, run_id: str | None = None
) -> pa.Table:
    """Events of committed runs; without ``run_id``, each drive's most recent run."""
    where = []
    if type:
        if type not in TYPES:
            from drivelake.errors import InputError

            raise InputError(
                "--type", f"unknown event type {type!r}; choose from {', '.join(TYPES)}"
            )
        where.append(f"type = '{type}'")
    return _of_runs(lake, "events", EVENTS, drive_id, run_id, where, "start_s")


def roughness(lake: Lake, drive_id: str | None = None, run_id: str | None = None) -> pa.Table:
    """Road roughness per segment, of committed runs; without ``run_id``, each drive's latest."""
    return _of_runs(lake, "roughness", ROUGHNESS, drive_id, run_id, [], "segment")


def _of_runs(
    lake: Lake,
    table: str,
    schema: pa.Schema,
    drive_id: str | None,
    run_id: str | None,
    where: list[str],
    order: str,
) -> pa.Table:
    """Rows of ``table`` from committed runs (``run_id``, or each drive's most recent one).

    ``where``: predicates over ``table``'s own columns; ``order``: the column rows are sorted
    by within a drive. One drive's rows are two filtered Lance scans (its runs, then its rows of
    the chosen run: what a page asks for); the whole lake's are a query of the lake's SQL views
    (:meth:`drivelake.lake.Lake.connect`), which join the runs.
    """
    rows, runs_table = lake.dataset(table), lake.dataset("event_runs")
    if rows is None:
        return schema.empty_table()
    by_run = [f"run_id = '{run_id.replace(chr(39), chr(39) * 2)}'"] if run_id else []
    by_drive = [f"drive_id = '{lake.resolve_drive_id(drive_id)}'"] if drive_id else []
    if runs_table is None:  # rows written without a detector run (imported): all of them
        found = rows.to_table(filter=" AND ".join([*by_drive, *by_run, *where]) or None)
        return found.sort_by([("drive_id", "ascending"), (order, "ascending")])
    if drive_id:
        mine = " AND ".join([*by_drive, *by_run])
        runs = runs_table.to_table(columns=["run_id", "finished_at"], filter=mine)
        if not runs.num_rows:
            return schema.empty_table()
        latest = runs.sort_by([("finished_at", "descending")])["run_id"][0].as_py()
        cond = " AND ".join([*by_drive, f"run_id = '{latest}'", *where])
        return rows.to_table(filter=cond).sort_by(order)
    # the lake's SQL views: ``table`` holds each drive's latest run, ``table_all`` every run
    source = f"{table}_all" if run_id else table
    cond = " AND ".join([*by_run, *where]) or "TRUE"
    return lake.sql(f"SELECT * FROM {source} WHERE {cond} ORDER BY drive_id, {order}")


def roughness_summary(lake: Lake, drive_id: str) -> str | None:
    """One line for ``drivelake show``: how many segments, and the index's spread."""
    rows = roughness(lake, drive_id)
    if not rows.num_rows:
        return None
    x = np.sort(rows.column("roughness_mps2").to_numpy())
    length = float(np.median(rows.column("distance_m").to_numpy()))
    return (
        f"{len(x)} segments of ~{length:.0f} m, RMS vertical acceleration median "
        f"{np.median(x):.2f}, 90th percentile {np.quantile(x, 0.9):.2f}, max {x[-1]:.2f} m/s²"
    )
