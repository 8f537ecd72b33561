"""What a partner sees through a share: exactly the share's drives, anonymised, column-limited.

Every table leaving through a share passes :meth:`PartnerView.limit`, which keeps a column only if
it is a key (``drive_id``, ``stream``, ``t_s``, ...), it is not always withheld (source paths,
vehicle ids, free-text metadata, ingest ids), and the licence lists it (a licence without a
column list allows every other column). Vehicle ids are replaced by pseudonyms that change per
drive and per share, so two drives of one vehicle cannot be linked.

Anonymisation follows the licence's levels through :mod:`drivelake.share.anonymise`: ``zones``
trims locations near homes, depots and each drive's ends; ``faces``/``plates`` redact frames.
When a required anonymiser is not available the data it would have cleaned is withheld (location
columns dropped, frames refused), never sent raw.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from drivelake.errors import AccessError, NotFoundError
from drivelake.share import anonymise
from drivelake.share.secret import sign

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


def downsample(table: pa.Table, max_points: int) -> pa.Table:
    """At most ``max_points`` rows per stream, evenly strided (plots need shape, not every row)."""
    if table.num_rows <= max_points or "stream" not in table.column_names:
        return table.slice(0, max_points) if "stream" not in table.column_names else table
    parts = []
    for stream in pc.unique(table["stream"]).to_pylist():
        part = table.filter(pc.equal(table["stream"], stream))
        step = -(-part.num_rows // max_points)
        parts.append(part.take(list(range(0, part.num_rows, step))))
    return pa.concat_tables(parts)


def relative_time(table: pa.Table, start_ns: int) -> pa.Table:
    """Replace ``t_ns`` by ``t_s``, seconds from the drive's start (as events report)."""
    t_s = pc.divide(pc.cast(pc.subtract(table["t_ns"], start_ns), pa.float64()), 1e9)
    return table.drop_columns(["t_ns"]).append_column("t_s", t_s)


class PartnerView:
    """The anonymised, column-limited view of one share's target."""

    def __init__(self, lake: Lake, share: Share, secret: bytes) -> None:
        self.lake = lake
        self.share = share
        self._secret = secret
        self._zones = "zones" in share.licence.anonymise
        self._ids = set(share.drive_ids)

    def allowed(self, column: str) -> bool:
        if column in KEYS:
            return True
        if column in WITHHELD:
            return False
        if column in LOCATION and self._zones and not anonymise.zones_available():
            return False
        columns = self.share.licence.columns
        return columns is None or column in columns

    def limit(self, table: pa.Table) -> pa.Table:
        return table.select([c for c in table.column_names if self.allowed(c)])

    def _check_drive(self, drive_id: str) -> None:
        if drive_id not in self._ids:
            raise NotFoundError(f"no drive {drive_id!r} in share {self.share.share_id}")

    def _pseudonym(self, drive_id: str, vehicle_id: str | None) -> str:
        return sign(self._secret, f"{self.share.share_id}|{vehicle_id}|{drive_id}".encode())[:16]

    def drives(self) -> pa.Table:
        if not self._ids:
            return pa.table({"drive_id": pa.array([], pa.string())})
        listed = ", ".join(f"'{d}'" for d in sorted(self._ids))
        table = self.lake.drives(where=f"drive_id IN ({listed})")
        vehicles = [
            self._pseudonym(d, v)
            for d, v in zip(
                table["drive_id"].to_pylist(), table["vehicle_id"].to_pylist(), strict=True
            )
        ]
        return self.limit(table.append_column("vehicle", pa.array(vehicles, pa.string())))

    def drive(self, drive_id: str) -> dict[str, Any]:
        self._check_drive(drive_id)
        rows = self.drives().filter(pc.equal(pc.field("drive_id"), drive_id)).to_pylist()
        return rows[0]

    def signals(
        self, drive_id: str, streams: list[str] | None = None, max_points: int = DEFAULT_MAX_POINTS
    ) -> pa.Table:
        self._check_drive(drive_id)
        drive = self.lake.drive(drive_id)
        table = self.lake.signals(drive_id, streams=streams)
        table = table.drop_columns(["drive_id", "ingest_id"])
        if self._zones and anonymise.zones_available():
            table = anonymise.apply_zones(table, drive, self._secret)
        table = relative_time(table, drive["start_ns"])
        table = _drop_empty(self.limit(table))
        return downsample(table, max_points)

    def events(self, drive_id: str) -> pa.Table:
        self._check_drive(drive_id)
        ds = self.lake.dataset("events")
        if ds is None:
            return pa.table({"drive_id": pa.array([], pa.string())})
        return self.limit(ds.to_table(filter=f"drive_id = '{drive_id}'"))

    def frames(self, drive_id: str) -> pa.Table:
        """The drive's frames without pixels; fetch a thumbnail with :meth:`thumbnail`."""
        self._check_drive(drive_id)
        ds = self.lake.dataset("frames")
        if ds is None:
            return pa.table({"frame_id": pa.array([], pa.string())})
        return self.limit(ds.to_table(filter=f"drive_id = '{drive_id}'"))

    def thumbnail(self, frame_id: str) -> bytes:
        """One frame's JPEG thumbnail, redacted as the licence requires."""
        jpeg, drive_id = frame_thumbnail(self.lake, frame_id)
        self._check_drive(drive_id)
        levels = [lv for lv in self.share.licence.anonymise if lv in ("faces", "plates")]
        if not levels:
            return jpeg
        if not anonymise.frames_available():
            raise AccessError(
                f"share {self.share.share_id} requires {', '.join(levels)} anonymisation and no "
                "frame anonymiser is installed (pip install 'drivelake[privacy]')"
            )
        return anonymise.redact_jpeg(jpeg, levels)


def frame_thumbnail(lake: Lake, frame_id: str) -> tuple[bytes, str]:
    """A frame's stored JPEG thumbnail and its drive id."""
    ds = lake.dataset("frames")
    quoted = frame_id.replace("'", "''")
    table = (
        ds.to_table(columns=["drive_id", "thumbnail"], filter=f"frame_id = '{quoted}'")
        if ds is not None
        else None
    )
    if table is None or table.num_rows == 0 or table["thumbnail"][0].as_py() is None:
        raise NotFoundError(f"no frame {frame_id!r}")
    return table["thumbnail"][0].as_py(), table["drive_id"][0].as_py()


def _drop_empty(table: pa.Table) -> pa.Table:
    """Drop channel columns that are null in every row (streams carry few of them)."""
    return table.select(
        [c for c in table.column_names if table[c].null_count < table.num_rows or c in KEYS]
    )
