"""Shares (what partners read through), and the admin's partners, keys and audit log."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, Field

from drivelake.errors import NotFoundError
from drivelake.server.auth import admin, principal, sharing
from drivelake.server.encode import jsonable, rows
from drivelake.server.errors import public
from drivelake.server.routes import ID
from drivelake.server.routes.reads import add_drive_reads
from drivelake.share import ANONYMISE_LEVELS, Principal, Sharing
from drivelake.share.bundle_jobs import BundleJob
from drivelake.share.views import PartnerView

router = APIRouter(prefix="/api", tags=["sharing"])

ShareId = Path(pattern=ID, description="a share id (shr-...)")
Caller = Annotated[Principal, Depends(principal)]
Admin = Annotated[Principal, Depends(admin)]
State = Annotated[Sharing, Depends(sharing)]
_NAME = r"^[a-z0-9][a-z0-9._-]{0,63}$"


def share_view(state: State, who: Caller, share_id: str = ShareId) -> PartnerView:
    """The view of a share the caller may read: its own (admins: any), live, licence valid."""
    return PartnerView(state.lake, state.open_share(share_id, who), state.secret, state.frames)


ShareView = Annotated[PartnerView, Depends(share_view)]


# ---------------------------------------------------------------- shares, as partners see them


@router.get("/shares", summary="Shares the caller can read (admins: all)")
def list_shares(state: State, who: Caller) -> list[dict[str, Any]]:
    return [s.summary() for s in state.shares(None if who.is_admin else who.partner)]


@router.get("/shares/{share_id}", summary="One share and its licence")
def get_share(view: ShareView) -> dict[str, Any]:
    return view.share.summary()


@router.get("/shares/{share_id}/drives", summary="The share's drives, anonymised")
def share_drives(view: ShareView) -> list[dict[str, Any]]:
    return rows(view.drives())


add_drive_reads(router, "/shares/{share_id}", ShareView, "a share, as licensed")


@router.post(
    "/shares/{share_id}/bundle",
    summary="Start writing the share's signed export bundle (poll GET .../bundle)",
    status_code=202,
)
def start_bundle(view: ShareView, state: State, who: Caller) -> dict[str, Any]:
    return _shown(state.bundles.start(view.share.share_id, who), state)


@router.get(
    "/shares/{share_id}/bundle",
    summary="The share's latest bundle job: running, ready (with the manifest of hashes), failed",
)
def bundle_status(view: ShareView, state: State) -> dict[str, Any]:
    return _shown(_bundle_job(state, view), state)


@router.get(
    "/shares/{share_id}/bundle/download",
    summary="The share's ready bundle, a tar of its files, manifest and signature",
    response_class=FileResponse,
    responses={200: {"content": {"application/x-tar": {}}}},
)
def download_bundle(view: ShareView, state: State, who: Caller) -> FileResponse:
    job = _bundle_job(state, view)
    if job.status != "ready":
        why = f": {job.error}" if job.error else "; poll GET .../bundle until it is ready"
        raise HTTPException(409, f"bundle {job.job_id} is {job.status}{why}")
    state.audit.append(
        "share.download",
        actor=who.key_id,
        partner=view.share.partner,
        share=job.share_id,
        bundle=job.job_id,
        manifest_sha256=job.manifest_sha256,
    )
    return FileResponse(
        job.archive, media_type="application/x-tar", filename=f"{job.share_id}-bundle.tar"
    )


def _shown(job: BundleJob, state: Sharing) -> dict[str, Any]:
    """A bundle job as the partner sees it: its error names no place on the server's disk."""
    summary = job.summary()
    if summary["error"]:
        summary["error"] = public(summary["error"], state.lake.uri)
    return summary


def _bundle_job(state: Sharing, view: PartnerView) -> BundleJob:
    job = state.bundles.latest(view.share.share_id)
    if job is None:
        raise NotFoundError(f"share {view.share.share_id} has no bundle yet: POST to start one")
    return job


# ---------------------------------------------------------------- admin


class NewPartner(BaseModel):
    name: str = Field(pattern=_NAME)
    contact: str | None = Field(None, max_length=200)


class NewShare(BaseModel):
    target: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}(@[A-Za-z0-9][A-Za-z0-9._-]{0,63})?$"
    )
    partner: str = Field(pattern=_NAME)
    uses: list[Annotated[str, Field(pattern=_NAME)]] = Field(min_length=1, max_length=16)
    expires: date
    anonymise: list[Annotated[str, Field(pattern="^(faces|plates|zones)$")]] = Field(
        default=list(ANONYMISE_LEVELS), max_length=3
    )
    columns: list[Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_]{0,63}$")]] | None = Field(
        None, max_length=128
    )


@router.get("/partners", summary="Partners")
def partners(state: State, who: Admin) -> list[dict[str, Any]]:
    return [jsonable(p) for p in state.partners()]


@router.post("/partners", summary="Add a partner", status_code=201)
def add_partner(body: NewPartner, state: State, who: Admin) -> dict[str, Any]:
    return jsonable(state.add_partner(body.name, body.contact))


@router.post(
    "/shares", summary="Share a target with a partner under a new licence", status_code=201
)
def create_share(body: NewShare, state: State, who: Admin) -> dict[str, Any]:
    """Targets are datasets (``name@snapshot``); drive selections are made with the CLI."""
    created = state.create_share(
        body.target,
        partner=body.partner,
        uses=body.uses,
        expires=body.expires,
        anonymise=body.anonymise,
        columns=body.columns,
    )
    return created.summary()


class KeyRequest(BaseModel):
    role: Literal["admin", "partner"]
    partner: str | None = Field(None, pattern=_NAME, description="required for a partner key")


class CreatedKey(BaseModel):
    key_id: str
    key: str = Field(description="the API key itself: shown in this answer only")
    partner: str | None
    role: Literal["admin", "partner"]


@router.post(
    "/keys",
    summary="Create an API key; the key is in this answer only (just its hash is stored)",
    status_code=201,
)
def create_key(body: KeyRequest, state: State, who: Admin, response: Response) -> CreatedKey:
    new = state.create_key(partner=body.partner, admin=body.role == "admin", actor=who.key_id)
    response.headers["Cache-Control"] = "no-store"
    return CreatedKey(key_id=new.key_id, key=new.token, partner=new.partner, role=new.role)


@router.get("/keys", summary="API keys (ids, roles, partners; never the keys)")
def list_keys(state: State, who: Admin) -> list[dict[str, Any]]:
    return [jsonable(k) for k in state.list_keys()]


@router.delete("/keys/{key_id}", summary="Revoke an API key", status_code=204)
def revoke_key(state: State, who: Admin, key_id: str = Path(pattern=ID)) -> Response:
    state.revoke_key(key_id)
    return Response(status_code=204)


@router.get("/audit", summary="Audit log entries, newest first")
def audit(
    state: State,
    who: Admin,
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=10**9),
) -> list[dict[str, Any]]:
    entries = list(state.audit.entries())[::-1]
    return entries[offset : offset + limit]


@router.get("/audit/verify", summary="Check the audit log's hash chain")
def audit_verify(state: State, who: Admin) -> dict[str, Any]:
    return vars(state.audit.verify())
