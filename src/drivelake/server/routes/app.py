"""Routes the web app needs beyond the lake API: session, fleet aggregates, video files, tags,
frame filters and search. Thin: each is one call into the lake, :mod:`drivelake.server.fleet`,
:mod:`drivelake.search` or the video tables. Everything needs an admin key except
``/api/app/session`` (any key) and ``/api/app/media/...``, whose links are signed by
``/api/app/videos/{id}/url``.
"""

from __future__ import annotations

import hmac
import os
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path as FilePath
from typing import TYPE_CHECKING, Annotated, Any, Literal

import pyarrow as pa
from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, Field

from drivelake.errors import NotFoundError, StoreError
from drivelake.server.auth import admin, principal
from drivelake.server.encode import jsonable, rows
from drivelake.server.fleet import FleetFilter, FleetIndex
from drivelake.server.routes import ID, DriveId
from drivelake.share import Principal
from drivelake.share.secret import sign

if TYPE_CHECKING:
    from drivelake.lake import Lake

router = APIRouter(prefix="/api/app", tags=["web app"])
Admin = Annotated[Principal, Depends(admin)]
VideoId = Path(pattern=ID, description="a video id (content hash)")

#: A basemap tile URL template (``https://…/{z}/{x}/{y}.png``); without one the map is plain.
TILE_ENV = "DRIVELAKE_TILE_URL"
_MEDIA = {"mp4": "video/mp4", "mov": "video/quicktime", "webm": "video/webm", "mkv": "video/webm"}
#: How long a signed video link stays valid (a long drive played at once fits).
MEDIA_TTL_S = 6 * 3600
#: Frames closer than this (seconds) belong to one span of search results.
SPAN_GAP_S = 2.5


def fleet_index(request: Request) -> FleetIndex:
    """The app's one :class:`FleetIndex` (loaded in the background when the server starts)."""
    return request.app.state.fleet


Fleet = Annotated[FleetIndex, Depends(fleet_index)]


def fleet_filter(
    start: datetime | None = Query(None, description="events/drives from this time (UTC)"),
    end: datetime | None = Query(None, description="events/drives until this time (UTC)"),
    vehicle: list[str] = Query([], max_length=64),
    type: list[str] = Query([], max_length=16),
    severity: list[str] = Query([], max_length=8),
    south: float | None = Query(None, ge=-90, le=90),
    west: float | None = Query(None, ge=-540, le=540),
    north: float | None = Query(None, ge=-90, le=90),
    east: float | None = Query(None, ge=-540, le=540),
) -> FleetFilter:
    box = (south, west, north, east)
    return FleetFilter(
        start=start,
        end=end,
        vehicles=tuple(vehicle),
        types=tuple(type),
        severities=tuple(severity),
        bbox=None if None in box else box,  # type: ignore[arg-type]
    )


Filter = Annotated[FleetFilter, Depends(fleet_filter)]


@router.get("/session", summary="Who the key is, and what this server offers the web app")
def session(request: Request, who: Principal = Depends(principal)) -> dict[str, Any]:
    """``features.search``: frames or texts have embeddings, so words and examples can rank.
    ``warming``: the server is still filling its caches (:mod:`drivelake.server.warmup`); pages
    work, the first ones a little slower."""
    names = request.app.state.lake.table_names()
    warming = request.app.state.warmup
    return {
        "warming": warming is not None and warming.is_alive(),
        "role": who.role,
        "partner": who.partner,
        "key_id": who.key_id,
        "tile_url": os.environ.get(TILE_ENV) or None,
        "features": {"search": any(n.startswith("embeddings_") for n in names)},
    }


@router.get("/fleet", summary="Counts, per-type histogram, event clusters and drive density")
def fleet(
    fleet: Fleet,
    who: Admin,
    f: Filter,
    zoom: int = Query(12, ge=0, le=22),
    width: int | None = Query(None, ge=64, le=16384, description="map width (px), to fit"),
    height: int | None = Query(None, ge=64, le=16384, description="map height (px), to fit"),
) -> JSONResponse:
    """Without a viewport but with the map's ``width`` and ``height``, clusters are made at the
    zoom that fits the matching drives (the page's first view, in one request). Plain
    ``JSONResponse``s here: FastAPI's per-value encoding of a few hundred clusters costs more
    than computing them."""
    fit = (width, height) if width and height else None
    return JSONResponse(fleet.summary(f, zoom, fit=fit))


@router.get("/tracks", summary="Simplified tracks of the drives in view (none when too many)")
def tracks(fleet: Fleet, who: Admin, f: Filter) -> JSONResponse:
    return JSONResponse(fleet.tracks(f))


def _videos(request: Request, where: str) -> list[dict[str, Any]]:
    ds = request.app.state.lake.dataset("videos")
    return ds.to_table(filter=where).to_pylist() if ds is not None else []


@router.get("/drives/{drive_id}/videos", summary="A drive's videos and their place on its timeline")
def drive_videos(request: Request, who: Admin, drive_id: str = DriveId) -> list[dict[str, Any]]:
    """Each playable video comes with its signed link (``url``, ``expires``), so the player can
    start loading it without another round trip."""
    drive_id = request.app.state.lake.resolve_drive_id(drive_id)
    out = []
    for v in sorted(_videos(request, f"drive_id = '{drive_id}'"), key=lambda v: v["start_s"] or 0):
        suffix = FilePath(v.pop("path") or "").suffix.lstrip(".").lower()
        v["playable"] = suffix in _MEDIA and v["codec"] in ("h264", "vp8", "vp9", "av1")
        if v["playable"]:
            v |= _signed_link(request, v["video_id"])
        out.append(jsonable(v))
    return out


def _media_signature(request: Request, video_id: str, expires: int) -> str:
    return sign(request.app.state.sharing.secret, f"media|{video_id}|{expires}".encode())


def _signed_link(request: Request, video_id: str) -> dict[str, Any]:
    expires = int(time.time()) + MEDIA_TTL_S
    sig = _media_signature(request, video_id, expires)
    return {"url": f"/api/app/media/{video_id}?expires={expires}&sig={sig}", "expires": expires}


@router.get("/videos/{video_id}/url", summary="A signed, short-lived URL of a video file")
def video_url(request: Request, who: Admin, video_id: str = VideoId) -> dict[str, Any]:
    """Video elements cannot send an API key, so the player gets a URL signed for a while (a
    fresh one here once the link from the drive's video list has expired)."""
    if not _videos(request, f"video_id = '{video_id}'"):
        raise HTTPException(404, f"no video {video_id!r}")
    return _signed_link(request, video_id)


@router.get(
    "/media/{video_id}",
    summary="A video file by signed URL (HTTP range requests, so players can seek)",
    response_class=FileResponse,
)
def media(
    request: Request,
    video_id: str = VideoId,
    expires: int = Query(..., ge=0),
    sig: str = Query(..., pattern=r"^[0-9a-f]{64}$"),
) -> FileResponse:
    good = hmac.compare_digest(sig, _media_signature(request, video_id, expires))
    if not good or expires < time.time():
        raise HTTPException(403, "this media link is invalid or has expired; reload the page")
    found = _videos(request, f"video_id = '{video_id}'")
    path = FilePath(found[0]["path"]) if found else None
    if path is None or not path.is_file():
        raise HTTPException(404, f"no video file for {video_id!r}")
    media_type = _MEDIA.get(path.suffix.lstrip(".").lower(), "application/octet-stream")
    return FileResponse(path, media_type=media_type)


class NewTag(BaseModel):
    kind: Literal["tag", "note"] = "tag"
    text: str = Field(min_length=1, max_length=2000)
    t_s: float | None = Field(None, ge=0, le=1e7)


@router.get("/drives/{drive_id}/tags", summary="A drive's tags and notes")
def drive_tags(request: Request, who: Admin, drive_id: str = DriveId) -> list[dict[str, Any]]:
    lake = request.app.state.lake
    drive_id = lake.resolve_drive_id(drive_id)  # an unknown drive is 404 even before any tag
    return rows(lake.tags(drive_id).sort_by("created_at"))


@router.post("/drives/{drive_id}/tags", summary="Add a tag or a note", status_code=201)
def add_tag(request: Request, body: NewTag, who: Admin, drive_id: str = DriveId) -> dict[str, Any]:
    lake = request.app.state.lake
    tag_id = lake.tag(drive_id, body.text, kind=body.kind, t_s=body.t_s, author=who.key_id)
    return {"tag_id": tag_id, "drive_id": lake.resolve_drive_id(drive_id), **body.model_dump()}


@dataclass(frozen=True)
class FrameFilter:
    """The search page's filters, as one SQL predicate over the frame context."""

    type: str | None = None
    vehicle: str | None = None
    min_speed: float | None = None
    max_speed: float | None = None
    hour_from: int | None = None
    hour_to: int | None = None
    where: str | None = None

    def sql(self) -> str | None:
        """``None`` when nothing is filtered; the free ``where`` is ANDed in parentheses."""
        quote = lambda v: "'" + v.replace("'", "''") + "'"  # noqa: E731
        checks = [
            ("event_type = {}", self.type, quote),
            ("vehicle_id = {}", self.vehicle, quote),
            ("speed_mps >= {}", self.min_speed, repr),
            ("speed_mps <= {}", self.max_speed, repr),
            ("hour_utc >= {}", self.hour_from, repr),
            ("hour_utc <= {}", self.hour_to, repr),
            ("({})", self.where, str),
        ]
        parts = [clause.format(show(v)) for clause, v, show in checks if v not in (None, "")]
        return " AND ".join(parts) or None


def frame_filter(
    type: str | None = Query(None, max_length=64, description="frames inside an event of type"),
    vehicle: str | None = Query(None, max_length=128),
    min_speed: float | None = Query(None, ge=0, description="m/s"),
    max_speed: float | None = Query(None, ge=0, description="m/s"),
    hour_from: int | None = Query(None, ge=0, le=23, description="UTC hour of day"),
    hour_to: int | None = Query(None, ge=0, le=23),
    where: str | None = Query(None, max_length=1000, description="SQL over the frame context"),
) -> FrameFilter:
    return FrameFilter(type, vehicle, min_speed, max_speed, hour_from, hour_to, where)


Frames = Annotated[FrameFilter, Depends(frame_filter)]


@router.get("/frames", summary="Frames matching filters, grouped into time spans per drive")
def frames(
    request: Request,
    who: Admin,
    f: Frames,
    limit: int = Query(60, ge=1, le=500, description="at most this many spans"),
) -> list[dict[str, Any]]:
    """Filters only (no model): what the search page shows without words or an example.

    ``where`` sees the columns of :func:`drivelake.search.context.frame_context`: the frame's
    (speed_mps, lat, lon, t_s, ...), ``vehicle_id``, ``hour_utc``, ``event_type``, ``severity``.
    """
    import duckdb

    from drivelake.search.context import frame_context, has_table

    con = request.app.state.lake.connect()
    try:
        if not has_table(con, "frames"):
            return []
        found = con.execute(
            "SELECT frame_id, drive_id, t_s, any_value(speed_mps), any_value(vehicle_id), "
            f"max(event_type) FROM ({frame_context(con)}) WHERE {f.sql() or 'TRUE'} "
            "GROUP BY frame_id, drive_id, t_s ORDER BY drive_id, t_s"
        ).fetchall()
    except duckdb.Error as exc:
        raise HTTPException(400, f"filter: {str(exc).splitlines()[0]}") from exc
    finally:
        con.close()
    return spans(found)[:limit]


def spans(found: list[tuple]) -> list[dict[str, Any]]:
    """Merge frames of one drive less than :data:`SPAN_GAP_S` apart into spans."""
    out: list[dict[str, Any]] = []
    for frame_id, drive_id, t_s, speed, vehicle, event_type in found:
        last = out[-1] if out else None
        if last and last["drive_id"] == drive_id and t_s - last["end_s"] <= SPAN_GAP_S:
            last["end_s"] = t_s
            last["frames"].append({"frame_id": frame_id, "t_s": t_s})
            last["event_type"] = last["event_type"] or event_type
            continue
        out.append(
            {
                "drive_id": drive_id,
                "vehicle_id": vehicle,
                "start_s": t_s,
                "end_s": t_s,
                "speed_mps": speed,
                "event_type": event_type,
                "frames": [{"frame_id": frame_id, "t_s": t_s}],
            }
        )
    return out


@router.get("/search", summary="Search by words or by example frame, under the filters")
def search(
    request: Request,
    who: Admin,
    f: Frames,
    q: str | None = Query(None, max_length=500),
    like: str | None = Query(None, pattern=ID, description="a frame id: more like this"),
    limit: int = Query(60, ge=1, le=500),
) -> list[dict[str, Any]]:
    """``lake.search`` (:func:`drivelake.search.search`: spans, best first), with their frames."""
    if not q and not like:
        raise HTTPException(422, "give words (q) or a frame (like)")
    lake = request.app.state.lake
    try:
        found = lake.search(q or None, like=like, where=f.sql(), k=limit)
    except NotFoundError:
        raise
    except StoreError as exc:  # the filter's SQL did not run
        raise HTTPException(400, str(exc)) from exc
    return with_frames(lake, found.drop_columns(["thumbnail"]))


def with_frames(lake: Lake, found: pa.Table) -> list[dict[str, Any]]:
    """Rows of ``found`` spans, each with ``frames``: the sampled frames inside it."""
    out = rows(found)
    for span in out:
        span["frames"] = []
    if not out or "frames" not in lake.table_names():
        return out
    con = lake.connect()
    try:
        con.register(
            "_spans",
            found.select(["drive_id", "start_s", "end_s"]).append_column(
                "i", pa.array(range(found.num_rows), pa.int64())
            ),
        )
        inside = con.execute(
            "SELECT s.i, f.frame_id, f.t_s FROM _spans s JOIN frames f ON f.drive_id = s.drive_id "
            "AND f.t_s BETWEEN s.start_s AND s.end_s ORDER BY s.i, f.t_s"
        ).fetchall()
    finally:
        con.close()
    for i, frame_id, t_s in inside:
        out[i]["frames"].append({"frame_id": frame_id, "t_s": t_s})
    return out
