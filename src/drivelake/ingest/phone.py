"""Smartphone sensor folders: one CSV per sensor keyed by ``uptimeNanos``, plus trip metadata.

The layout is the public driver-behaviour dataset's (``acelerometro_terra.csv``,
``aceleracaoLinear_terra.csv``, ``giroscopio_terra.csv``, ``campoMagnetico_terra.csv``,
``viagem.json``, ``groundTruth.csv``); English names for the same files are accepted too.
Each CSV has ``timestamp,uptimeNanos,x,y,z``: the wall-clock ``timestamp`` only has whole
seconds, so samples are timed by ``uptimeNanos`` (the phone's monotonic clock).

The ``_terra`` files are already rotated into an Earth frame (z up, x/y horizontal but not
along the car), so the recording's frame is :data:`~drivelake.schema.FRAME_EARTH_ENU`.

The drive starts (t = 0 s) at the metadata's ``firstCollectionUptimeNanos`` rather than at
the first sample, because that is the origin of the dataset's own labels: ``groundTruth.csv``
gives ``inicio``/``fim`` in seconds since it. The labels file is kept as a source with role
``labels``. The metadata's ``start`` (local time with its UTC offset) is the wall-clock time
of that same instant, which ties the uptime clock to UTC.

Rows with the wrong number of cells or a non-numeric value are skipped and counted in
:attr:`Recording.repairs`; a sensor file without an ``uptimeNanos`` column is an error.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from drivelake.errors import InputError
from drivelake.ingest.base import Reader, ReadOptions, Recording, SourceFile, Stream
from drivelake.schema import FRAME_EARTH_ENU

#: Sensor file -> stream, Portuguese (the dataset's) names first.
SENSOR_FILES: dict[str, str] = {
    "acelerometro_terra.csv": "accel",
    "aceleracaoLinear_terra.csv": "accel_linear",
    "giroscopio_terra.csv": "gyro",
    "campoMagnetico_terra.csv": "magnetometer",
    "accelerometer.csv": "accel",
    "linear_acceleration.csv": "accel_linear",
    "gyroscope.csv": "gyro",
    "magnetometer.csv": "magnetometer",
}
META_FILES = ("viagem.json", "trip.json", "meta.json")
LABEL_FILES = ("groundTruth.csv", "ground_truth.csv", "labels.csv")
TIME_COLUMN = "uptimeNanos"
AXES = ("x", "y", "z")
CHANNELS = {
    "accel": ("ax", "ay", "az"),
    "accel_linear": ("ax", "ay", "az"),
    "gyro": ("gx", "gy", "gz"),
    "magnetometer": ("mx", "my", "mz"),
}
_INTEGER = r"^\s*[+-]?\d+\s*$"
_FLOAT = r"(?i)^\s*[+-]?((\d+\.?\d*|\.\d+)(e[+-]?\d+)?|nan|inf|infinity)\s*$"


def _first_existing(folder: Path, names: tuple[str, ...]) -> Path | None:
    return next((folder / n for n in names if (folder / n).is_file()), None)


def _sensor_files(folder: Path) -> dict[str, Path]:
    """Stream -> file, the first name found per stream."""
    found: dict[str, Path] = {}
    for name, stream in SENSOR_FILES.items():
        if stream not in found and (folder / name).is_file():
            found[stream] = folder / name
    return found


def _header(path: Path) -> list[str]:
    with path.open("rb") as fh:
        line = fh.readline(4096).decode("utf-8", errors="replace")
    return [c.strip() for c in line.split(",")]


def _sniff(path: Path) -> float:
    sensors = _sensor_files(path)
    if not sensors:
        return 0.0
    if _first_existing(path, META_FILES) is not None:
        return 0.9
    return 0.9 if TIME_COLUMN in _header(next(iter(sensors.values()))) else 0.0


# --------------------------------------------------------------------------- sensor CSVs


def _line_of(row: int, skipped_lines: list[int]) -> int:
    """The file line of data row ``row`` (0-based, after skipped lines), header on line 1."""
    line = row + 2
    for skipped in sorted(skipped_lines):
        if skipped <= line:
            line += 1
    return line


def _read_sensor(path: Path, stream: str) -> tuple[Stream, list[str]]:
    """One sensor CSV as a stream, with notes on the rows it skipped."""
    header = _header(path)
    missing = [c for c in (TIME_COLUMN, *AXES) if c not in header]
    if missing:
        raise InputError(path, f"no {', '.join(missing)} column (header: {header})", "line 1")
    malformed: list[tuple[int, str]] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        malformed.append((row.number, row.text))
        return "skip"

    columns = [TIME_COLUMN, *AXES]
    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(use_threads=False),
            parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(
                include_columns=columns, column_types=dict.fromkeys(columns, pa.string())
            ),
        )
    except pa.ArrowInvalid as exc:
        raise InputError(path, f"unreadable CSV: {str(exc).splitlines()[0]}") from exc
    notes = []
    if malformed:
        line, text = malformed[0]
        notes.append(
            f"{path.name}: {len(malformed)} malformed rows skipped"
            f" (first: line {line}: {text[:60]!r})"
        )
    valid = pc.fill_null(pc.match_substring_regex(table[TIME_COLUMN], _INTEGER), False)
    for axis in AXES:
        valid = pc.and_(valid, pc.fill_null(pc.match_substring_regex(table[axis], _FLOAT), False))
    ok = valid.to_numpy(zero_copy_only=False)
    if not ok.all():
        first = int(np.argmin(ok))
        line = _line_of(first, [n for n, _ in malformed])
        notes.append(
            f"{path.name}: {int((~ok).sum())} rows with empty or non-numeric values skipped"
            f" (first: line {line})"
        )
        table = table.filter(pa.array(ok))
    t_ns = pc.cast(pc.utf8_trim_whitespace(table[TIME_COLUMN]), pa.int64()).to_numpy()
    channels = {
        name: pc.cast(pc.utf8_trim_whitespace(table[axis]), pa.float64()).to_numpy()
        for name, axis in zip(CHANNELS[stream], AXES, strict=True)
    }
    return Stream(stream, t_ns, channels), notes


# --------------------------------------------------------------------------- metadata


def _read_meta(path: Path) -> dict[str, object]:
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(path, f"invalid JSON: {exc}") from exc
    if not isinstance(meta, dict):
        raise InputError(path, "expected a JSON object")
    return meta


def _uptime_ns(meta: dict[str, object], key: str, path: Path) -> int | None:
    value = meta.get(key)
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InputError(path, f"{key} is not an integer: {value!r}") from None


def _utc_ns(text: str, path: Path) -> int:
    """``'2016-05-15 16:03:47.304-0300'`` as ns since the Unix epoch."""
    for fmt in ("%Y-%m-%d %H:%M:%S.%f%z", "%Y-%m-%d %H:%M:%S%z", "%Y-%m-%dT%H:%M:%S.%f%z"):
        try:
            when = datetime.strptime(text.strip(), fmt)
        except ValueError:
            continue
        epoch = datetime(1970, 1, 1, tzinfo=UTC)
        return (when - epoch) // timedelta(microseconds=1) * 1000
    raise InputError(path, f"start time {text!r} is not 'YYYY-MM-DD HH:MM:SS.fff+HHMM'")


# --------------------------------------------------------------------------- reader


def _read(path: Path, options: ReadOptions) -> Recording:
    sensors = _sensor_files(path)
    if not sensors:
        raise InputError(path, f"no sensor CSV ({', '.join(SENSOR_FILES)})")
    streams, repairs = [], []
    for name, file in sensors.items():
        stream, notes = _read_sensor(file, name)
        streams.append(stream)
        repairs.extend(notes)
    sources = [SourceFile.of(f) for f in sensors.values()]
    meta_path = _first_existing(path, META_FILES)
    meta = _read_meta(meta_path) if meta_path else {}
    if meta_path:
        sources.append(SourceFile.of(meta_path, role="metadata"))
    labels = _first_existing(path, LABEL_FILES)
    if labels:
        sources.append(SourceFile.of(labels, role="labels"))
    t0 = _uptime_ns(meta, "firstCollectionUptimeNanos", meta_path) if meta_path else None
    offset = None
    if t0 is not None and isinstance(meta.get("start"), str):
        offset = _utc_ns(meta["start"], meta_path) - t0
    return Recording(
        source_format=PHONE_READER.name,
        sources=sources,
        streams=streams,
        source_frame=FRAME_EARTH_ENU,
        t0_ns=t0,
        utc_offset_ns=offset,
        vehicle_id=options.vehicle_id,
        metadata={k: str(v) for k, v in meta.items()},
        repairs=repairs,
    )


PHONE_READER = Reader("phone_csv", _sniff, _read, folder=True)
