"""Curated datasets (``lake.datasets``, :mod:`drivelake.curate`) for the web app: list,
members and their images, recipe, snapshots, diffs, exports, and adding search results. Admin
keys only; each route is one call into the curate API (exports run in the background:
:mod:`drivelake.server.exports`).
"""

from __future__ import annotations

from typing import Annotated, Any

import pyarrow.compute as pc
from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from drivelake.curate import Dataset, snapshot, steps
from drivelake.curate.exporters import FORMATS
from drivelake.server.auth import admin
from drivelake.server.encode import rows
from drivelake.server.routes import ID

router = APIRouter(prefix="/api/datasets", tags=["datasets"], dependencies=[Depends(admin)])

NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
Name = Path(pattern=NAME, description="a dataset name")
#: A version number or a snapshot tag; the latest version without one.
At = Query(None, pattern=NAME, description="a version number or snapshot tag (default: latest)")
#: Member columns the pages show (no image bytes, no telemetry windows).
LISTED = [
    "member_id",
    "kind",
    "drive_id",
    "vehicle_id",
    "frame_id",
    "t_s",
    "start_s",
    "end_s",
    "event_type",
    "split",
    "score",
    "uniqueness",
    "source",
]


def dataset(request: Request, name: str = Name) -> Dataset:
    return request.app.state.lake.datasets[name]


DatasetOf = Annotated[Dataset, Depends(dataset)]


def _version(at: str | None) -> int | str | None:
    return int(at) if at is not None and at.isdigit() else at


@router.get("", summary="Every dataset: members, version and snapshots")
def list_datasets(request: Request) -> list[dict[str, Any]]:
    return [
        {
            "name": ds.name,
            "members": ds.lance().count_rows(),
            "version": ds.version,
            "snapshots": [s["tag"] for s in snapshot.snapshots(ds)],
        }
        for ds in request.app.state.lake.datasets.values()
    ]


@router.get("/{name}", summary="A dataset: counts by kind, split and label; recipe; snapshots")
def get_dataset(ds: DatasetOf, at: str | None = At) -> dict[str, Any]:
    members = ds.members(_version(at))
    counts = {
        what: {str(v["values"]): v["counts"] for v in pc.value_counts(members[column]).to_pylist()}
        for what, column in (("kind", "kind"), ("split", "split"), ("label", "event_type"))
    }
    return {
        "name": ds.name,
        "version": ds.lance(_version(at)).version,
        "members": members.num_rows,
        "drives": len(pc.unique(members["drive_id"])),
        "counts": counts,
        "recipe": ds.recipe(_version(at)),
        "snapshots": snapshot.snapshots(ds),
    }


@router.get("/{name}/members", summary="Members (without image bytes), by member id")
def members(
    ds: DatasetOf,
    at: str | None = At,
    limit: int = Query(60, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=10**9),
) -> list[dict[str, Any]]:
    return rows(ds.members(_version(at)).select(LISTED).slice(offset, limit))


@router.get(
    "/{name}/members/{member_id}/image",
    summary="A member's own JPEG (copied into the dataset when it was added)",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}},
)
def member_image(ds: DatasetOf, member_id: str = Path(pattern=ID), at: str | None = At) -> Response:
    found = ds.lance(_version(at)).to_table(columns=["image"], filter=f"member_id = '{member_id}'")
    image = found["image"][0].as_py() if found.num_rows else None
    if image is None:
        raise HTTPException(404, f"member {member_id!r} of {ds.name!r} has no image")
    return Response(image, media_type="image/jpeg", headers={"Cache-Control": "max-age=3600"})


class Span(BaseModel):
    drive_id: str = Field(pattern=ID)
    start_s: float = Field(ge=0, le=1e7)
    end_s: float = Field(ge=0, le=1e7)


class NewMembers(BaseModel):
    spans: list[Span] = Field(min_length=1, max_length=500)
    create: bool = False


def spans_predicate(spans: list[Span]) -> str:
    """The frames inside the spans, as a ``--where`` predicate (recorded in the recipe).

    Span ends are frame times, exact through JSON, so ``BETWEEN`` keeps the end frames.
    """
    return " OR ".join(
        f"(drive_id = '{s.drive_id}' AND t_s BETWEEN {s.start_s!r} AND {s.end_s!r})" for s in spans
    )


@router.post("/{name}/members", summary="Add the frames of time spans (creating the dataset)")
def add_members(
    request: Request, body: NewMembers, name: str = Path(pattern=NAME)
) -> dict[str, Any]:
    lake = request.app.state.lake
    where = spans_predicate(body.spans)
    if body.create:
        ds = steps.create(lake, name, where=where)
        added = ds.lance().count_rows()
    else:
        ds = lake.datasets[name]
        added = steps.add(ds, where=where)
    return {
        "name": ds.name,
        "added": added,
        "members": ds.lance().count_rows(),
        "version": ds.version,
    }


class NewSnapshot(BaseModel):
    tag: str = Field(pattern=NAME)
    message: str = Field("", max_length=500)


@router.post("/{name}/snapshots", summary="Tag the latest version as a snapshot", status_code=201)
def create_snapshot(ds: DatasetOf, body: NewSnapshot) -> dict[str, Any]:
    manifest = snapshot.create(ds, body.tag, body.message)
    return {k: v for k, v in manifest.items() if k != "members"}


@router.get("/{name}/diff", summary="What changed between two snapshots")
def diff(
    ds: DatasetOf, a: str = Query(..., pattern=NAME), b: str = Query(..., pattern=NAME)
) -> dict[str, Any]:
    return snapshot.diff(ds, a, b)


class NewExport(BaseModel):
    tag: str = Field(pattern=NAME)
    format: str = Field(pattern="^(" + "|".join(FORMATS) + ")$")


@router.post("/{name}/exports", summary="Start exporting a snapshot", status_code=202)
def start_export(request: Request, ds: DatasetOf, body: NewExport) -> dict[str, Any]:
    if body.tag not in {s["tag"] for s in snapshot.snapshots(ds)}:
        raise HTTPException(404, f"no snapshot {ds.name}@{body.tag}")
    return request.app.state.exports.start(ds.name, body.tag, body.format)


@router.get(
    "/{name}/exports", summary="Exports of this dataset started from the web app (kept in the lake)"
)
def exports(request: Request, ds: DatasetOf) -> list[dict[str, Any]]:
    return request.app.state.exports.of(ds.name)
