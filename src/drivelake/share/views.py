"""Views of the lake for the API and exports: the whole lake for admins, one share for partners.

:class:`LakeView` reads drives, downsampled signals, events and frames. :class:`PartnerView`
narrows it to what a partner sees through a share: exactly the share's drives, anonymised,
column-limited. Every table leaving through it passes :meth:`PartnerView.allowed`, which keeps a
column only if it is a key (``drive_id``, ``stream``, ``t_s``, ...), is not always withheld
(source paths, vehicle ids, free-text metadata, ingest ids), and the licence lists it (a licence
without a column list allows every other column). Vehicle ids are replaced by pseudonyms that
change per drive and per share, so two drives of one vehicle cannot be linked.

Anonymisation follows the licence's levels through :mod:`drivelake.share.anonymise`: ``zones``
trims locations near homes, depots and each drive's ends; ``faces``/``plates`` redact frames
(thumbnails and full frames decoded from the video), which are kept redacted on disk
(:mod:`drivelake.share.frame_cache`) so each is anonymised once.
When a required anonymiser is not available the data it would have cleaned is withheld (location
columns dropped, frames refused), never sent raw.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from drivelake.errors import AccessError, NotFoundError, StoreError
from drivelake.share import anonymise
from drivelake.share.frame_cache import FrameCache
from drivelake.share.secret import sign, state_dir

if TYPE_CHECKING:
    from drivelake.lake import Lake
    from drivelake.share.registry import Share

#: Columns that identify rows and always come with them.
KEYS = frozenset({"drive_id", "stream", "t_s", "frame_id", "event_id", "vehicle"})
#: Columns that never leave through a share, whatever the licence says.
WITHHELD = frozenset(
    {"vehicle_id", "source_files", "videos", "metadata_json", "ingest_id", "path", "thumbnail"}
)
#: Columns that give away where a vehicle was; they need the ``zones`` anonymisation.
LOCATION = frozenset({"lat", "lon", "alt_m", "min_lat", "min_lon", "max_lat", "max_lon"})
DEFAULT_MAX_POINTS = 2000
FULL_FRAME_QUALITY = 90
#: Calibration columns the plots read: rotations only, never a place.
CALIBRATION = ["start_s", "end_s", "rotation", "yaw_offset_deg", "quality", "method"]


def downsample(table: pa.Table, max_points: int) -> pa.Table:
    """At most ``max_points`` rows per stream, evenly strided (plots need shape, not every row)."""
    parts = []
    for stream in pc.unique(table["stream"]).to_pylist():
        part = table.filter(pc.equal(table["stream"], stream))
        step = -(-part.num_rows // max_points)
        parts.append(part.take(list(range(0, part.num_rows, step))) if step > 1 else part)
    return pa.concat_tables(parts) if parts else table


def relative_time(table: pa.Table, start_ns: int) -> pa.Table:
    """Replace ``t_ns`` by ``t_s``, seconds from the drive's start (as events report)."""
    t_s = pc.divide(pc.cast(pc.subtract(table["t_ns"], start_ns), pa.float64()), 1e9)
    return table.drop_columns(["t_ns"]).append_column("t_s", t_s)


def drop_empty(table: pa.Table) -> pa.Table:
    """Drop channel columns that are null in every row (each stream fills few of them)."""
    return table.select(
        [c for c in table.column_names if c in KEYS or table[c].null_count < table.num_rows]
    )


def _quote(value: str) -> str:
    return value.replace("'", "''")


@lru_cache(maxsize=4)
def _frame_offsets(table_uri: str, version: int) -> dict[str, tuple[int, str]]:
    """frame_id -> (row offset, drive_id) in one version of the ``frames`` table.

    Keyed by version, so it is never stale: a new version (an ingest) builds a new index.
    """
    import lance

    table = lance.dataset(table_uri, version=version).to_table(columns=["frame_id", "drive_id"])
    pairs = zip(table["frame_id"].to_pylist(), table["drive_id"].to_pylist(), strict=True)
    return {frame_id: (offset, drive_id) for offset, (frame_id, drive_id) in enumerate(pairs)}


class LakeView:
    """The whole lake, as the API serves it to admins."""

    #: Who reads through this view, for caches of what it returns (views differ by audience).
    audience = "lake"

    def __init__(self, lake: Lake) -> None:
        self.lake = lake

    def allowed(self, column: str) -> bool:
        return column not in ("ingest_id", "thumbnail")

    def limit(self, table: pa.Table) -> pa.Table:
        return table.select([c for c in table.column_names if self.allowed(c)])

    def drive_id(self, drive_id: str) -> str:
        """The full id of a drive this view shows (a unique prefix is accepted)."""
        return self.lake.resolve_drive_id(drive_id)

    def drives(self) -> pa.Table:
        return self.limit(self.lake.drives())

    def drive(self, drive_id: str) -> dict[str, Any]:
        return {k: v for k, v in self.lake.drive(drive_id).items() if self.allowed(k)}

    def signals(
        self, drive_id: str, streams: list[str] | None = None, max_points: int = DEFAULT_MAX_POINTS
    ) -> pa.Table:
        """A drive's samples (``t_s`` from its start), at most ``max_points`` per stream."""
        drive = self.lake.drive(self.drive_id(drive_id))
        table = self.lake.signals(drive["drive_id"], streams=streams)
        table = self._clean_signals(table, drive)
        table = drop_empty(self.limit(relative_time(table, drive["start_ns"])))
        return downsample(table, max_points)

    def _clean_signals(self, table: pa.Table, drive: dict[str, Any]) -> pa.Table:
        return table

    def _per_drive(self, table: str, drive_id: str) -> pa.Table:
        ds = self.lake.dataset(table)
        if ds is None:
            return pa.table({"drive_id": pa.array([], pa.string())})
        return self.limit(ds.to_table(filter=f"drive_id = '{_quote(self.drive_id(drive_id))}'"))

    def events(self, drive_id: str) -> pa.Table:
        """The drive's events from its latest detector run, as ``drivelake events`` and the
        fleet page count them (earlier runs stay in the lake for ``--run``)."""
        from drivelake.events.store import events

        return self.limit(events(self.lake, self.drive_id(drive_id)))

    def calibration(self, drive_id: str) -> list[dict[str, Any]]:
        """The drive's sensor -> vehicle rotation spans, for turning vectors on the server.

        Only rotations, angles and quality: nothing in them places the vehicle, and they are
        not sent out, so every view (a partner's too) plots in the vehicle frame.
        """
        ds = self.lake.dataset("calibrations")
        if ds is None:
            return []
        where = f"drive_id = '{_quote(self.drive_id(drive_id))}'"
        return ds.to_table(columns=CALIBRATION, filter=where).sort_by("start_s").to_pylist()

    def frames(self, drive_id: str) -> pa.Table:
        """The drive's frames without pixels; fetch a thumbnail with :meth:`thumbnail`."""
        return self._per_drive("frames", drive_id)

    def thumbnail(self, frame_id: str) -> bytes:
        """One frame's stored JPEG thumbnail."""
        thumbnail = self._frame_row(frame_id, ["thumbnail"])["thumbnail"]
        if thumbnail is None:
            raise NotFoundError(f"no thumbnail for frame {frame_id!r}")
        return thumbnail

    def frame_image(self, frame_id: str) -> bytes:
        """One frame at full resolution, decoded from its video, as JPEG."""
        from drivelake.video.decode import jpeg_bytes

        return jpeg_bytes(self._frame_rgb(frame_id), FULL_FRAME_QUALITY)

    def _frame_row(self, frame_id: str, columns: list[str]) -> dict[str, Any]:
        """A frame's ``columns``, once its drive is known to be in this view (else not found).

        One ``take`` of the row, found through a per-version index (:func:`_frame_offsets`):
        thumbnails are what pages fetch by the dozen, and a filtered scan costs 5x more.
        """
        ds = self.lake.dataset("frames")
        found = None if ds is None else _frame_offsets(ds.uri, ds.version).get(frame_id)
        if found is None:
            raise NotFoundError(f"no frame {frame_id!r}")
        offset, drive_id = found
        self._require_drive(drive_id)
        row = ds.take([offset], columns=["frame_id", *columns]).to_pylist()[0]
        if row["frame_id"] != frame_id:  # never expected: offsets are fixed within a version
            raise StoreError(f"frames table version {ds.version}: row {offset} moved")
        return row | {"drive_id": drive_id}

    def _require_drive(self, drive_id: str) -> None:
        """Admins see every drive of the lake."""

    def _frame_rgb(self, frame_id: str) -> np.ndarray:
        from drivelake.video.decode import to_rgb
        from drivelake.video.stage import decode_frame

        self._frame_row(frame_id, [])
        return to_rgb(*decode_frame(self.lake, frame_id))


class PartnerView(LakeView):
    """The anonymised, column-limited view of one share's target; redacted frames are kept in
    ``frames`` (the lake's :class:`FrameCache` by default)."""

    def __init__(
        self, lake: Lake, share: Share, secret: bytes, frames: FrameCache | None = None
    ) -> None:
        super().__init__(lake)
        self.share = share
        self._secret = secret
        self._zones = "zones" in share.licence.anonymise
        self._ids = set(share.drive_ids)
        self._cache = frames or FrameCache(state_dir(lake.uri) / "frames")
        self.audience = f"share:{share.share_id}"

    def allowed(self, column: str) -> bool:
        if column in KEYS:
            return True
        if column in WITHHELD:
            return False
        if column in LOCATION and self._zones and not anonymise.zones_available():
            return False
        columns = self.share.licence.columns
        return columns is None or column in columns

    def drive_id(self, drive_id: str) -> str:
        """Only the share's drives, by full id (prefixes would probe for other drives)."""
        if drive_id not in self._ids:
            raise NotFoundError(f"no drive {drive_id!r} in share {self.share.share_id}")
        return drive_id

    def _require_drive(self, drive_id: str) -> None:
        self.drive_id(drive_id)

    def drives(self) -> pa.Table:
        if not self._ids:
            return pa.table({"drive_id": pa.array([], pa.string())})
        listed = ", ".join(f"'{_quote(d)}'" for d in sorted(self._ids))
        table = self.lake.drives(where=f"drive_id IN ({listed})")
        pairs = zip(table["drive_id"].to_pylist(), table["vehicle_id"].to_pylist(), strict=True)
        vehicles = pa.array([self._pseudonym(d, v) for d, v in pairs], pa.string())
        return self.limit(table.append_column("vehicle", vehicles))

    def drive(self, drive_id: str) -> dict[str, Any]:
        drive_id = self.drive_id(drive_id)
        return self.drives().filter(pc.field("drive_id") == drive_id).to_pylist()[0]

    def _pseudonym(self, drive_id: str, vehicle_id: str | None) -> str:
        return sign(self._secret, f"{self.share.share_id}|{vehicle_id}|{drive_id}".encode())[:16]

    def _clean_signals(self, table: pa.Table, drive: dict[str, Any]) -> pa.Table:
        if self._zones and anonymise.zones_available():
            return anonymise.apply_zones(table, drive, self._secret)
        return table

    def thumbnail(self, frame_id: str) -> bytes:
        """The thumbnail, redacted as the licence requires (refused if it cannot be)."""
        jpeg = super().thumbnail(frame_id)
        levels = self._frame_levels()
        if not levels:
            return jpeg
        return self._cache.fetch(
            anonymise.frames_config(levels),
            f"{frame_id}.thumb",
            lambda: anonymise.redact_jpeg(jpeg, levels),
        )

    def frame_image(self, frame_id: str) -> bytes:
        """The full frame, redacted as the licence requires; redacted once, then cached."""
        levels = self._frame_levels()
        if not levels:
            return super().frame_image(frame_id)
        from drivelake.video.decode import jpeg_bytes

        self._frame_row(frame_id, [])  # access first: the cache holds every share's frames
        return self._cache.fetch(
            anonymise.frames_config(levels),
            f"{frame_id}.full",
            lambda: jpeg_bytes(
                anonymise.redact_rgb(self._frame_rgb(frame_id), levels), FULL_FRAME_QUALITY
            ),
        )

    def _frame_levels(self) -> list[str]:
        """The frame anonymisation the licence requires; AccessError if it cannot be done."""
        levels = [lv for lv in self.share.licence.anonymise if lv in ("faces", "plates")]
        if levels and not anonymise.frames_available():
            raise AccessError(
                f"share {self.share.share_id} requires {', '.join(levels)} anonymisation and no "
                "frame anonymiser is installed (pip install 'drivelake[privacy]')"
            )
        return levels
