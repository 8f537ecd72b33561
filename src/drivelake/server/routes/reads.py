"""Reads of one drive and its frames, over a view: the whole lake (admins) or one share.

Both audiences get the same routes (frames as stored thumbnails and as full frames decoded from
the video); only the view differs — :class:`LakeView` for admins,
:class:`PartnerView` (licensed columns, anonymised) for a share's partner.
"""

# no `from __future__ import annotations`: FastAPI must see the real ``View`` type of each
# route, which is a parameter of the factory, not a module global
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from drivelake.server.encode import jsonable, rows
from drivelake.server.routes import DriveId, FrameId, MaxPoints, PlotWidth, Streams


def add_drive_reads(router: APIRouter, prefix: str, View: Any, audience: str) -> None:
    """Add the per-drive and per-frame read routes under ``prefix``, reading through ``View``."""
    drive_path = f"{prefix}/drives/{{drive_id}}"

    @router.get(drive_path, summary=f"One drive ({audience})")
    def drive(view: View, drive_id: str = DriveId) -> dict[str, Any]:
        return jsonable(view.drive(drive_id))

    @router.get(f"{drive_path}/signals", summary=f"A drive's samples, downsampled ({audience})")
    def signals(
        view: View,
        drive_id: str = DriveId,
        stream: list[str] | None = Streams,
        max_points: int = MaxPoints,
    ) -> list[dict[str, Any]]:
        return rows(view.signals(drive_id, stream, max_points))

    @router.get(f"{drive_path}/plot", summary=f"A drive's plotted streams, columnar ({audience})")
    def plot(
        request: Request, view: View, drive_id: str = DriveId, width: int = PlotWidth
    ) -> Response:
        body = request.app.state.plots.get(view, drive_id, width)
        return Response(body, media_type="application/json")

    @router.get(f"{drive_path}/events", summary=f"A drive's events ({audience})")
    def events(view: View, drive_id: str = DriveId) -> list[dict[str, Any]]:
        return rows(view.events(drive_id))

    @router.get(f"{drive_path}/frames", summary=f"A drive's sampled frames, no pixels ({audience})")
    def frames(view: View, drive_id: str = DriveId) -> list[dict[str, Any]]:
        return rows(view.frames(drive_id))

    @router.get(
        f"{prefix}/frames/{{frame_id}}/thumbnail",
        summary=f"A frame's JPEG thumbnail ({audience})",
        response_class=Response,
        responses={200: {"content": {"image/jpeg": {}}}},
    )
    def thumbnail(view: View, frame_id: str = FrameId) -> Response:
        return Response(view.thumbnail(frame_id), media_type="image/jpeg")

    @router.get(
        f"{prefix}/frames/{{frame_id}}/image",
        summary=f"A frame at full resolution, decoded from its video, JPEG ({audience})",
        response_class=Response,
        responses={200: {"content": {"image/jpeg": {}}}},
    )
    def frame_image(view: View, frame_id: str = FrameId) -> Response:
        return Response(view.frame_image(frame_id), media_type="image/jpeg")
