"""Admin reads of the whole lake: drives, signals, events, frames, search."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from drivelake.server.auth import admin
from drivelake.server.encode import rows
from drivelake.server.routes.reads import add_drive_reads
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


add_drive_reads(router, "", View, "whole lake")


@router.get("/search", summary="Search frames (and tags, notes, captions) by words")
def search(
    request: Request,
    q: str = Query(..., min_length=1, max_length=500),
    limit: int = Query(20, ge=1, le=200),
) -> list[dict[str, Any]]:
    """Time spans, best first (``lake.search``); thumbnails by frame id."""
    return rows(request.app.state.lake.search(q, k=limit).drop_columns(["thumbnail"]))
