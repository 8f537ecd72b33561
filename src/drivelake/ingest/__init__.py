"""Ingest: find sources, read them with the right reader, write each drive atomically.

The pipeline for one source (run by an engine, one source per task):
``read`` → ``clean_stream`` per stream → ``split_at_gaps`` → per drive: skip if already
present, else write samples then the catalogue row (see :mod:`drivelake.lake`).
One bad source yields a failed result with a one-line reason; it never stops the others.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from drivelake import schema
from drivelake.engine import get_engine
from drivelake.errors import DrivelakeError, InputError
from drivelake.ingest.base import (
    ReadOptions,
    Recording,
    SourceFile,
    Stream,
    clean_stream,
    drive_id_for,
    haversine_m,
    split_at_gaps,
    stream_rate_hz,
)
from drivelake.ingest.discover import Source, discover

if TYPE_CHECKING:
    from drivelake.lake import Lake

__all__ = ["IngestOptions", "IngestReport", "IngestResult", "ingest_paths", "read_source"]


@dataclass
class IngestResult:
    """What happened to one drive (or to one source that yielded none)."""

    source: str
    status: str  # "ingested" | "already present" | "failed" | "skipped"
    drive_id: str | None = None
    message: str = ""
    samples: int = 0
    repairs: list[str] = field(default_factory=list)


@dataclass
class IngestReport:
    results: list[IngestResult] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.results)

    @property
    def ok(self) -> bool:
        return self.count("failed") == 0

    @property
    def drive_ids(self) -> list[str]:
        return [r.drive_id for r in self.results if r.drive_id]


@dataclass(frozen=True)
class _Task:
    lake_uri: str
    source: Source
    options: ReadOptions
    max_gap_s: float


def read_source(source: Source, options: ReadOptions) -> Recording:
    """Read one source with its reader, converting any unexpected failure to an InputError."""
    try:
        rec = source.reader.read(source.path, options)
    except DrivelakeError:
        raise
    except (OSError, UnicodeDecodeError, ValueError, KeyError, IndexError) as exc:
        raise InputError(source.path, f"cannot read as {source.reader.name}: {exc}") from exc
    rec.videos.extend(SourceFile.of(v, role="video") for v in source.videos)
    if options.vehicle_id:
        rec.vehicle_id = options.vehicle_id
    return rec


@dataclass(frozen=True)
class IngestOptions:
    """How to ingest: the one options object the API, the CLI and the engine tasks share."""

    vehicle_id: str | None = None
    #: force a reader by name (else each source's format is detected)
    format: str | None = None
    jobs: int = 1
    engine: str = "local"
    #: split a recording into drives wherever no stream has a sample for this long
    max_gap_s: float = 300.0
    column_map: dict[str, str] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)


def ingest_paths(
    lake: Lake,
    paths: Sequence[str | os.PathLike[str]],
    options: IngestOptions | None = None,
    *,
    on_result: Callable[[IngestResult], None] | None = None,
    on_discovered: Callable[[int], None] | None = None,
) -> IngestReport:
    """Ingest every source found under ``paths`` into ``lake``.

    Formats are detected per source (``options.format`` forces one). Sources run in parallel on
    the chosen engine; the report lists every drive ingested, already present or failed.
    """
    options = options or IngestOptions()
    lake.sweep_orphans()
    report = IngestReport()

    def emit(result: IngestResult) -> None:
        report.results.append(result)
        if on_result:
            on_result(result)

    sources, problems = discover([Path(p) for p in paths], format=options.format)
    if on_discovered:
        on_discovered(len(sources) + len(problems))
    for problem in problems:
        emit(IngestResult(problem.path, problem.status, message=problem.message))
    read = ReadOptions(
        vehicle_id=options.vehicle_id, column_map=options.column_map, units=options.units
    )
    tasks = [_Task(lake.uri, s, read, options.max_gap_s) for s in sources]
    for _, results in get_engine(options.engine, jobs=options.jobs).map(_ingest_task, tasks):
        for result in results:
            emit(result)
    if report.count("ingested"):
        lake.compact_catalogue()
    return report


def _ingest_task(task: _Task) -> list[IngestResult]:
    """Engine task: read, clean, split and write one source. Never raises for bad input."""
    from drivelake.lake import Lake

    path = str(task.source.path)
    try:
        rec = read_source(task.source, task.options)
        repairs = list(rec.repairs)
        cleaned = []
        for s in rec.streams:
            s, fixes = clean_stream(s, path)
            repairs.extend(fixes)
            if len(s):
                cleaned.append(s)
        if not cleaned:
            raise InputError(path, "no samples found")
        rec.streams, rec.repairs = cleaned, repairs
        parts = split_at_gaps(rec, task.max_gap_s)
        lake = Lake(task.lake_uri)
        results = []
        for i, part in enumerate(parts):
            drive_id = drive_id_for(rec, i, len(parts))
            results.append(write_drive(lake, part, drive_id, source=path))
        if rec.videos:
            from drivelake.video.stage import process_results

            process_results(lake, results)
        return results
    except DrivelakeError as exc:
        return [IngestResult(path, "failed", message=str(exc))]
    except Exception as exc:  # a reader bug must not take the batch down; say where
        return [IngestResult(path, "failed", message=f"{path}: {type(exc).__name__}: {exc}")]


def write_drive(lake: Lake, rec: Recording, drive_id: str, *, source: str) -> IngestResult:
    """Write one drive: samples first, catalogue row last (see the commit protocol in lake.py)."""
    from drivelake.lake import new_ingest_id

    drives = lake.dataset("drives")
    if drives is not None and drives.count_rows(filter=f"drive_id = '{drive_id}'"):
        return IngestResult(source, "already present", drive_id, "already present")
    ingest_id = new_ingest_id()
    signals, blocks = signals_table(rec, drive_id, ingest_id)
    fragments = lake.append_fragments("signals", signals, message=f"ingest {drive_id}")
    row = catalogue_row(rec, drive_id, ingest_id, fragments, blocks)
    inserted = lake.insert_new("drives", row, "drive_id", message=f"ingest {drive_id}")
    if not inserted:  # another process committed the same drive first
        lake.delete("signals", f"ingest_id = '{ingest_id}'")
        return IngestResult(source, "already present", drive_id, "already present")
    return IngestResult(
        source, "ingested", drive_id, samples=signals.num_rows, repairs=list(rec.repairs)
    )


def drive_start_ns(rec: Recording) -> int:
    """A drive's t = 0 on its source clock: the reader's start, or the first sample if earlier."""
    first, _ = rec.time_range()
    return min(rec.t0_ns if rec.t0_ns is not None else first, first)


def signals_table(rec: Recording, drive_id: str, ingest_id: str) -> tuple[pa.Table, list[dict]]:
    """One drive's streams as stored rows of the signals table, and the blocks of rows.

    Streams sampled at the same instants share a block (``schema.SHARED_BLOCKS``); blocks are
    sorted by name, rows by time. Each channel goes to its block's value slot, quantised to its
    ``CHANNEL_STEPS``; missing values become nulls.
    """
    pieces, blocks, start = [], [], drive_start_ns(rec)
    for name, t_ns, channels in _blocks(rec.streams):
        n = len(t_ns)
        absent = pa.nulls(n, pa.uint32())
        cols: dict[str, pa.Array] = {
            "drive_id": pa.repeat(pa.scalar(drive_id, pa.string()), n),
            "ingest_id": pa.repeat(pa.scalar(ingest_id, pa.string()), n),
            "stream": pa.repeat(pa.scalar(name, pa.string()), n),
            "t_off_ns": pa.array((t_ns - start).astype(np.uint64), pa.uint64()),
            **{f"v{i}": absent for i in range(schema.VALUE_SLOTS)},
        }
        for channel, values in channels.items():
            cols[schema.slot_of(name, channel)] = quantise(values, schema.CHANNEL_STEPS[channel])
        pieces.append(pa.table(cols, schema=schema.SIGNALS))
        blocks.append({"block": name, "rows": n})
    return pa.concat_tables(pieces), blocks


def _blocks(streams: list[Stream]) -> list[tuple[str, np.ndarray, dict[str, np.ndarray]]]:
    """(block name, times, channels) per stored block, sorted by name."""
    by_name = {s.name: s for s in streams}
    out = []
    for block, members in schema.SHARED_BLOCKS.items():
        present = [by_name.get(m) for m in members]
        if all(present) and all(np.array_equal(present[0].t_ns, p.t_ns) for p in present[1:]):
            for m in members:
                del by_name[m]
            out.append(
                (block, present[0].t_ns, {k: v for p in present for k, v in p.channels.items()})
            )
    for s in by_name.values():
        unknown = set(s.channels) - set(schema.STREAM_CHANNELS.get(s.name, ()))
        if unknown:
            raise ValueError(f"stream {s.name!r} has no slot for channels {sorted(unknown)}")
        out.append((s.name, s.t_ns, s.channels))
    return sorted(out, key=lambda b: b[0])


def quantise(values: np.ndarray, step: float) -> pa.Array:
    """Float values as zigzag-coded int32 multiples of ``step`` (see ``schema.SIGNALS``).

    NaN, and values beyond int32's range of steps, become nulls.
    """
    steps = np.rint(np.asarray(values, dtype=np.float64) * (1.0 / step))
    valid = np.abs(steps) < 2**31 - 1  # False for NaN and inf too
    if valid.all():
        ints = steps.astype(np.int32)
        mask = None
    else:
        ints = np.where(valid, steps, 0).astype(np.int32)
        mask = ~valid
    zigzag = ((ints << 1) ^ (ints >> 31)).view(np.uint32)
    return pa.array(zigzag, pa.uint32(), mask=mask)


def catalogue_row(
    rec: Recording,
    drive_id: str,
    ingest_id: str,
    signal_fragments: list[int],
    signal_blocks: list[dict],
) -> pa.Table:
    """The drive's row in ``drives``: times, distance, bounds and per-stream statistics."""
    _, last = rec.time_range()
    t0 = drive_start_ns(rec)
    offset = rec.utc_offset_ns
    positions = _position_stream(rec)
    bounds = {"min_lat": None, "min_lon": None, "max_lat": None, "max_lon": None}
    distance = _distance_m(rec, positions)
    if positions is not None:
        lat, lon = positions.channels["lat"], positions.channels["lon"]
        bounds = {
            "min_lat": float(np.min(lat)),
            "min_lon": float(np.min(lon)),
            "max_lat": float(np.max(lat)),
            "max_lon": float(np.max(lon)),
        }

    def utc(t: int) -> datetime | None:
        if offset is None:
            return None
        return datetime.fromtimestamp((t + offset) / 1e9, tz=UTC)

    row = {
        "drive_id": drive_id,
        "vehicle_id": rec.vehicle_id,
        "source_format": rec.source_format,
        "source_files": [vars(s) for s in rec.sources],
        "source_frame": rec.source_frame,
        "start_ns": t0,
        "end_ns": last,
        "utc_offset_ns": offset,
        "start_utc": utc(t0),
        "end_utc": utc(last),
        "duration_s": (last - t0) / 1e9,
        "distance_m": distance,
        "streams": sorted(s.name for s in rec.streams),
        "stream_stats": [
            {"stream": s.name, "samples": len(s), "rate_hz": stream_rate_hz(s.t_ns)}
            for s in sorted(rec.streams, key=lambda s: s.name)
        ],
        "signal_fragments": signal_fragments,
        "signal_blocks": signal_blocks,
        **bounds,
        "videos": [vars(v) for v in rec.videos],
        "repairs": rec.repairs,
        "synthetic": rec.synthetic,
        "metadata_json": json.dumps(rec.metadata, sort_keys=True),
        "ingest_id": ingest_id,
        "ingested_at": datetime.now(UTC),
    }
    return pa.Table.from_pylist([row], schema=schema.DRIVES)


def _position_stream(rec: Recording):
    by_name = {s.name: s for s in rec.streams}
    for name in ("gnss", "pose"):
        if name in by_name and "lat" in by_name[name].channels:
            return by_name[name]
    return None


def _distance_m(rec: Recording, positions) -> float | None:
    """Distance along the positions, or the integral of a speed channel without them."""
    if positions is not None and len(positions) > 1:
        lat, lon = positions.channels["lat"], positions.channels["lon"]
        step = haversine_m(np.asarray(lat, float), np.asarray(lon, float))
        dt = np.diff(positions.t_ns) / 1e9
        plausible = step <= np.maximum(dt, 1e-3) * 90.0  # drop jumps faster than 90 m/s
        return float(step[plausible].sum())
    for s in rec.streams:
        if "speed_mps" in s.channels and len(s) > 1:
            v = np.asarray(s.channels["speed_mps"], float)
            t = s.t_ns / 1e9
            return float(np.sum(0.5 * (v[1:] + v[:-1]) * np.diff(t)))
    return None
