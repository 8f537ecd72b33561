"""The fleet at a glance, aggregated on the server so the web app never draws 100,000 markers.

:class:`FleetIndex` keeps the drives and the events of the latest detector runs in memory as
numpy columns, reloaded only when one of their tables gets a new version. A request filters them
(time range, vehicle, event type, severity, map viewport) and clusters the events into a grid of
screen cells at the map's zoom level (Web Mercator pixels, as the map draws them): each cell
carries its count, its centre of mass and its counts per type, and small cells list their events
so a click can open one. Drive positions are aggregated the same way for the density layer;
simplified GNSS tracks are sent only when few drives are in view.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

if TYPE_CHECKING:
    from drivelake.lake import Lake

#: Events a cell lists individually (a click on a small cluster offers them in a popup).
LISTED = 12
#: Above this many drives in view the map shows their density instead of their tracks.
MAX_TRACKS = 300
#: Points per simplified track.
TRACK_POINTS = 400
#: The map's deepest zoom (as the web app's Leaflet map allows).
MAX_ZOOM = 18
_TABLES = ("drives", "events", "event_runs")
_BOX = ("min_lat", "min_lon", "max_lat", "max_lon")


@dataclass(frozen=True)
class FleetFilter:
    """What the fleet page asks for; every field is optional."""

    start: datetime | None = None
    end: datetime | None = None
    vehicles: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    severities: tuple[str, ...] = ()
    bbox: tuple[float, float, float, float] | None = None  # south, west, north, east


def _pixels(lat: np.ndarray, lon: np.ndarray, zoom: int) -> tuple[np.ndarray, np.ndarray]:
    """Web Mercator pixel coordinates at ``zoom`` (256-pixel tiles, as Leaflet uses)."""
    scale = 256.0 * 2.0**zoom
    rad = np.radians(np.clip(lat, -85.05, 85.05))
    x = (lon + 180.0) / 360.0 * scale
    y = (1.0 - np.log(np.tan(rad) + 1.0 / np.cos(rad)) / np.pi) / 2.0 * scale
    return x, y


def grid(lat: np.ndarray, lon: np.ndarray, zoom: int, cell_px: int):
    """Group points into screen cells: (inverse index per point, number of cells)."""
    x, y = _pixels(lat, lon, zoom)
    key = (np.floor(x / cell_px).astype(np.int64) << 32) + np.floor(y / cell_px).astype(np.int64)
    _, inverse = np.unique(key, return_inverse=True)
    return inverse, int(inverse.max()) + 1 if len(inverse) else 0


def _codes(values: pa.ChunkedArray | pa.Array) -> tuple[list[str], np.ndarray]:
    """Strings as (sorted distinct names, int code per value): masks and grouping on ints.

    Null is the name ``""``. Arrow's dictionary encoding, not ``np.unique`` over Python strings,
    which is ten times slower at 100,000 events.
    """
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    encoded = values.cast(pa.string()).fill_null("").dictionary_encode()
    order = pc.array_sort_indices(encoded.dictionary).to_numpy()
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return encoded.dictionary.take(order).to_pylist(), rank[encoded.indices.to_numpy()]


def fit_zoom(bounds: list[list[float]], width: int, height: int, padding: int = 20) -> float:
    """The zoom at which ``bounds`` fill a ``width`` x ``height`` map, as Leaflet's ``fitBounds``
    picks it (half-zoom steps, rounded down), so the first summary is the one the map shows."""
    (south, west), (north, east) = bounds
    x, y = _pixels(np.array([north, south]), np.array([west, east]), 0)
    span_x, span_y = max(x[1] - x[0], 1e-9), max(y[1] - y[0], 1e-9)
    scale = min((width - 2 * padding) / span_x, (height - 2 * padding) / span_y)
    return float(np.clip(np.floor(2 * np.log2(max(scale, 1e-9))) / 2, 0, MAX_ZOOM))


def _ns(when: datetime | None, default: int) -> int:
    return int(when.timestamp() * 1e9) if when is not None else default


class FleetIndex:
    """Drives and events in memory, refreshed when the lake's tables change."""

    def __init__(self, lake: Lake) -> None:
        self.lake = lake
        self._lock = threading.Lock()
        self._versions: tuple[int | None, ...] | None = None
        self._tracks: dict[str, tuple[str, list[list[float]]]] = {}
        self.drives: dict[str, np.ndarray] = {}
        self.events: dict[str, np.ndarray] = {}
        self.names: dict[str, list[str]] = {}

    def refresh(self) -> None:
        """Reload drives and events if any of their tables has a new version."""
        versions = tuple(
            ds.version if (ds := self.lake.dataset(name)) is not None else None for name in _TABLES
        )
        with self._lock:
            if versions == self._versions:
                return
            self._load()
            self._versions = versions

    def _load(self) -> None:
        from drivelake.events import events

        cols = ["drive_id", "vehicle_id", "ingest_id", "start_utc", "duration_s", "distance_m"]
        table = self.lake.drives(columns=[*cols, *_BOX])
        d = {c: table[c].to_numpy(zero_copy_only=False) for c in ("drive_id", "ingest_id")}
        d["start_ns"] = table["start_utc"].cast("int64").fill_null(0).to_numpy()
        d["duration_s"] = table["duration_s"].fill_null(0.0).to_numpy()
        d["distance_m"] = table["distance_m"].fill_null(0.0).to_numpy()
        d |= {c: table[c].fill_null(np.nan).to_numpy() for c in _BOX}
        d["lat"] = (d["min_lat"] + d["max_lat"]) / 2
        d["lon"] = (d["min_lon"] + d["max_lon"]) / 2
        vehicles, d["vehicle_code"] = _codes(table["vehicle_id"])
        ev = events(self.lake)
        e = {c: ev[c].to_numpy(zero_copy_only=False) for c in ("event_id", "drive_id", "unit")}
        for c in ("start_s", "end_s", "lat", "lon", "peak"):
            e[c] = ev[c].fill_null(np.nan).to_numpy()
        e["t_ns"] = ev["start_utc_ns"].fill_null(0).to_numpy()
        # an event's vehicle is its drive's; events of drives not in the catalogue have none ("")
        owner = pc.index_in(ev["drive_id"], value_set=table["drive_id"].combine_chunks())
        owner = owner.fill_null(-1).to_numpy()
        if (owner < 0).any() and "" not in vehicles:
            vehicles.append("")
        none = vehicles.index("") if "" in vehicles else -1
        e["vehicle_code"] = np.where(owner >= 0, d["vehicle_code"][owner], none)
        types, e["type_code"] = _codes(ev["type"])
        severities, e["severity_code"] = _codes(ev["severity"])
        self.names = {"vehicle": vehicles, "type": types, "severity": severities}
        self.drives, self.events = d, e

    def _wanted(self, kind: str, names: tuple[str, ...]) -> np.ndarray:
        """Codes of the ``names`` of a kind (unknown names match nothing)."""
        known = self.names[kind]
        return np.array([known.index(n) for n in names if n in known], dtype=np.int64)

    # ------------------------------------------------------------------ queries

    def _drive_mask(self, f: FleetFilter) -> np.ndarray:
        d = self.drives
        start, end = d["start_ns"], d["start_ns"] + (d["duration_s"] * 1e9).astype(np.int64)
        mask = (end >= _ns(f.start, -(2**62))) & (start <= _ns(f.end, 2**62))
        if f.vehicles:
            mask &= np.isin(d["vehicle_code"], self._wanted("vehicle", f.vehicles))
        return mask

    def _event_mask(self, f: FleetFilter) -> np.ndarray:
        e = self.events
        mask = (e["t_ns"] >= _ns(f.start, -(2**62))) & (e["t_ns"] <= _ns(f.end, 2**62))
        for kind, wanted in (
            ("vehicle", f.vehicles),
            ("type", f.types),
            ("severity", f.severities),
        ):
            if wanted:
                mask &= np.isin(e[f"{kind}_code"], self._wanted(kind, wanted))
        return mask

    @staticmethod
    def _in_box(lat: np.ndarray, lon: np.ndarray, bbox) -> np.ndarray:
        if bbox is None:
            return np.isfinite(lat) & np.isfinite(lon)
        south, west, north, east = bbox
        return (lat >= south) & (lat <= north) & (lon >= west) & (lon <= east)

    def summary(
        self, f: FleetFilter, zoom: int, fit: tuple[int, int] | None = None, cell_px: int = 56
    ) -> dict[str, Any]:
        """Counts, histogram, event clusters and drive density for the map at ``zoom``.

        With ``fit`` (the map's width and height in pixels) and no viewport, the map is about to
        fit the matching drives: the clusters are made at that zoom (as Leaflet will round it),
        so the page draws from one request instead of asking for the bounds first.
        """
        self.refresh()
        d, e = self.drives, self.events
        dmask, emask = self._drive_mask(f), self._event_mask(f)
        counts = np.bincount(e["type_code"][emask], minlength=len(self.names["type"]))
        located = dmask & np.isfinite(d["lat"])
        bounds = None
        if located.any():
            bounds = [
                [float(np.nanmin(d[c][located])) for c in ("min_lat", "min_lon")],
                [float(np.nanmax(d[c][located])) for c in ("max_lat", "max_lon")],
            ]
        if fit is not None and bounds is not None and f.bbox is None:
            zoom = int(np.floor(fit_zoom(bounds, *fit) + 0.5))
        in_view = emask & self._in_box(e["lat"], e["lon"], f.bbox)
        drives_in_view = dmask & self._in_box(d["lat"], d["lon"], f.bbox)
        return {
            "drives": int(dmask.sum()),
            "events": int(emask.sum()),
            "by_type": {t: int(n) for t, n in zip(self.names["type"], counts, strict=True) if n},
            "vehicles": [v for v in self.names["vehicle"] if v],
            "types": [t for t in self.names["type"] if t],
            "severities": [s for s in self.names["severity"] if s],
            "bounds": bounds,
            "zoom": zoom,
            "clusters": self._clusters(np.flatnonzero(in_view), zoom, cell_px),
            "density": self._density(np.flatnonzero(drives_in_view), zoom, cell_px // 2),
            "drives_in_view": int(drives_in_view.sum()),
        }

    def _clusters(self, idx: np.ndarray, zoom: int, cell_px: int) -> list[dict[str, Any]]:
        e = self.events
        if not len(idx):
            return []
        lat, lon = e["lat"][idx], e["lon"][idx]
        inverse, n = grid(lat, lon, zoom, cell_px)
        count = np.bincount(inverse, minlength=n)
        clat = np.bincount(inverse, lat, n) / count
        clon = np.bincount(inverse, lon, n) / count
        names, codes = self.names["type"], e["type_code"][idx]
        per_type = np.bincount(inverse * len(names) + codes, minlength=n * len(names))
        per_type = per_type.reshape(n, len(names))
        order = np.argsort(inverse, kind="stable")
        starts = np.concatenate([[0], np.cumsum(count)])
        out = []
        for c in range(n):
            cell = {
                "lat": round(float(clat[c]), 6),
                "lon": round(float(clon[c]), 6),
                "n": int(count[c]),
                "types": {names[k]: int(v) for k, v in enumerate(per_type[c]) if v},
            }
            if count[c] <= LISTED:
                cell["events"] = [self._event(i) for i in idx[order[starts[c] : starts[c + 1]]]]
            out.append(cell)
        return out

    def _event(self, i: int) -> dict[str, Any]:
        e = self.events
        peak = e["peak"][i]
        return {
            "event_id": e["event_id"][i],
            "drive_id": e["drive_id"][i],
            "type": self.names["type"][e["type_code"][i]],
            "severity": self.names["severity"][e["severity_code"][i]] or None,
            "start_s": round(float(e["start_s"][i]), 3),
            "peak": None if np.isnan(peak) else round(float(peak), 3),
            "unit": e["unit"][i],
            "vehicle_id": self.names["vehicle"][e["vehicle_code"][i]],
        }

    def _density(self, idx: np.ndarray, zoom: int, cell_px: int) -> list[list[float]]:
        """Drives per screen cell as ``[lat, lon, count]`` (the density layer)."""
        d = self.drives
        if not len(idx):
            return []
        lat, lon = d["lat"][idx], d["lon"][idx]
        inverse, n = grid(lat, lon, zoom, cell_px)
        count = np.bincount(inverse, minlength=n)
        clat, clon = np.bincount(inverse, lat, n) / count, np.bincount(inverse, lon, n) / count
        return [
            [round(float(a), 5), round(float(b), 5), int(c)]
            for a, b, c in zip(clat, clon, count, strict=True)
        ]

    def tracks(self, f: FleetFilter) -> dict[str, Any]:
        """Simplified tracks of the drives in view, or only their number when there are many."""
        self.refresh()
        d = self.drives
        idx = np.flatnonzero(self._drive_mask(f) & self._in_box(d["lat"], d["lon"], f.bbox))
        if len(idx) > MAX_TRACKS:
            return {"drives_in_view": len(idx), "tracks": None}
        wanted = {d["drive_id"][i]: d["ingest_id"][i] for i in idx}
        self._load_tracks({k: v for k, v in wanted.items() if self._tracks.get(k, ("",))[0] != v})
        tracks = [
            {
                "drive_id": k,
                "vehicle_id": self.names["vehicle"][d["vehicle_code"][i]],
                "points": self._tracks[k][1],
            }
            for i in idx
            if (k := d["drive_id"][i]) in self._tracks and self._tracks[k][1]
        ]
        return {"drives_in_view": len(idx), "tracks": tracks}

    def _load_tracks(self, ingest_ids: dict[str, str]) -> None:
        """Each drive's positions, thinned to TRACK_POINTS (a direct read of its own rows)."""
        for drive_id, ingest_id in ingest_ids.items():
            track = self.lake.stream(drive_id, "gnss") or self.lake.stream(drive_id, "pose")
            points: list = []
            if track is not None:
                step = max(1, -(-track.num_rows // TRACK_POINTS))
                lat = track["lat"].to_numpy(zero_copy_only=False)[::step]
                lon = track["lon"].to_numpy(zero_copy_only=False)[::step]
                points = np.round(np.column_stack([lat, lon]), 6).tolist()
            self._tracks[drive_id] = (ingest_id, points)
