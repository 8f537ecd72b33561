"""The joined context that ``--where`` predicates see: frames with their drive and events.

One row per (frame, overlapping event): every column of ``frames`` (speed_mps, lat, lon,
ax/ay/az, t_s, t_utc, ...), the drive's ``vehicle_id``, ``hour_utc`` (time of day), and the
event the frame falls in (``event_id``, ``event_type``, ``direction``, ``severity``; null when
none). Texts (tags, notes, captions) get the same drive and event columns at their own time.
Missing tables are simply not joined, and their columns read as null.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb

_EVENT_COLUMNS = ("event_id", "type", "direction", "severity", "start_s", "end_s")


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    try:
        return {row[0] for row in con.execute(f"DESCRIBE {table}").fetchall()}
    except Exception:  # the table does not exist (duckdb.CatalogException)
        return set()


def context_sql(con: duckdb.DuckDBPyConnection, base: str, *, time_col: str = "t_s") -> str:
    """SQL of ``base`` (a table or subquery with drive_id and ``time_col``) in context."""
    drives = "vehicle_id" in _columns(con, "drives")
    events = set(_EVENT_COLUMNS) <= _columns(con, "events")
    base_cols = _columns(con, base) if base.isidentifier() else set()
    hour = "hour(b.t_utc)" if "t_utc" in base_cols else "NULL::INTEGER"
    exclude = " EXCLUDE (thumbnail)" if "thumbnail" in base_cols else ""
    select = [f"b.*{exclude}", f"{hour} AS hour_utc"]
    joins = []
    if drives:
        select.append("d.vehicle_id")
        joins.append("LEFT JOIN drives d ON d.drive_id = b.drive_id")
    else:
        select.append("NULL::VARCHAR AS vehicle_id")
    if events:
        select += [
            "e.event_id",
            "e.type AS event_type",
            "e.direction AS event_direction",
            "e.severity",
        ]
        joins.append(
            "LEFT JOIN events e ON e.drive_id = b.drive_id "
            f"AND b.{time_col} BETWEEN e.start_s AND e.end_s"
        )
    else:
        select += [
            "NULL::VARCHAR AS event_id",
            "NULL::VARCHAR AS event_type",
            "NULL::VARCHAR AS event_direction",
            "NULL::VARCHAR AS severity",
        ]
    source = base if base.isidentifier() else f"({base})"
    return f"SELECT {', '.join(select)} FROM {source} b {' '.join(joins)}"


def frame_context(con: duckdb.DuckDBPyConnection) -> str:
    """SQL of the frame context (frames + drive + events); frames must exist."""
    return context_sql(con, "frames")


def has_table(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    return bool(_columns(con, table))
