"""Admin reads of the whole lake: drives, signals, events, frames, search."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response

from drivelake.server.auth import admin
from drivelake.server.encode import jsonable, rows
from drivelake.server.plots import plot_data
from drivelake.server.routes import DriveId, FrameId, MaxPoints, PlotWidth, Streams
from drivelake.share.views import LakeView

router = APIRouter(prefix="/api", tags=["lake"], dependencies=[Depends(admin)])


def view(request: Request) -> LakeView:
    return LakeView(request.app.state.lake)


View = Annotated[LakeView, Depends(view)]


@router.get("/drives", summary="List drives")
def drives(
    lake: View,
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=10**9),
) -> list[dict[str, Any]]:
    return rows(lake.drives().slice(offset, limit))


@router.get("/drives/{drive_id}", summary="One drive")
def drive(lake: View, drive_id: str = DriveId) -> dict[str, Any]:
    return jsonable(lake.drive(drive_id))


@router.get("/drives/{drive_id}/signals", summary="A drive's samples, downsampled")
def signals(
    lake: View,
    drive_id: str = DriveId,
    stream: list[str] | None = Streams,
    max_points: int = MaxPoints,
) -> list[dict[str, Any]]:
    return rows(lake.signals(drive_id, stream, max_points))


@router.get("/drives/{drive_id}/plot", summary="A drive's plotted streams, columnar (web app)")
def plot(lake: View, drive_id: str = DriveId, width: int = PlotWidth) -> JSONResponse:
    return JSONResponse(plot_data(lake, drive_id, width))


@router.get("/drives/{drive_id}/events", summary="A drive's events")
def events(lake: View, drive_id: str = DriveId) -> list[dict[str, Any]]:
    return rows(lake.events(drive_id))


@router.get("/drives/{drive_id}/frames", summary="A drive's sampled frames (no pixels)")
def frames(lake: View, drive_id: str = DriveId) -> list[dict[str, Any]]:
    return rows(lake.frames(drive_id))


@router.get(
    "/frames/{frame_id}/thumbnail",
    summary="A frame's JPEG thumbnail",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}},
)
def thumbnail(lake: View, frame_id: str = FrameId) -> Response:
    return Response(lake.thumbnail(frame_id), media_type="image/jpeg")


@router.get("/search", summary="Search frames (and tags, notes, captions) by words")
def search(
    request: Request,
    q: str = Query(..., min_length=1, max_length=500),
    limit: int = Query(20, ge=1, le=200),
) -> list[dict[str, Any]]:
    """Time spans, best first (``lake.search``); thumbnails by frame id."""
    return rows(request.app.state.lake.search(q, k=limit).drop_columns(["thumbnail"]))
