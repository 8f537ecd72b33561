"""Partners, licences and shares: who may see which target, for what, until when, how anonymised.

A **licence** grants a partner some uses (research, training, ...) of some targets until an
expiry date, limited to some columns and requiring some anonymisation levels. A **share** is one
target + its licence + the partner: through it the partner sees an anonymised, column-limited
view of exactly that target (see :mod:`drivelake.share.views`). :class:`Sharing` is the one
object the CLI and the server use; it also owns the keys, the audit log and the background
bundle jobs (:mod:`drivelake.share.bundle_jobs`).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from drivelake.errors import AccessError, InputError, NotFoundError
from drivelake.share import keys, targets
from drivelake.share.audit import AuditLog
from drivelake.share.bundle_jobs import BundleJobs
from drivelake.share.frame_cache import MAX_BYTES, FrameCache
from drivelake.share.secret import load_secret, state_dir
from drivelake.share.tables import RegistryTables, now

if TYPE_CHECKING:
    from drivelake.lake import Lake

ANONYMISE_LEVELS = ("faces", "plates", "zones")
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class Licence:
    licence_id: str
    partner: str
    uses: list[str]
    expires: date
    targets: list[str]
    columns: list[str] | None
    anonymise: list[str]

    def check_valid(self, today: date | None = None) -> None:
        """AccessError once the licence's last day has passed."""
        if (today or datetime.now(UTC).date()) > self.expires:
            raise AccessError(f"licence {self.licence_id} expired on {self.expires.isoformat()}")


@dataclass(frozen=True)
class Share:
    share_id: str
    partner: str
    target: str
    selection: str | None
    drive_ids: list[str]
    licence: Licence
    created_at: datetime
    revoked_at: datetime | None

    def summary(self) -> dict[str, Any]:
        """A flat, JSON-able description (for lists and the API)."""
        return {
            "share_id": self.share_id,
            "partner": self.partner,
            "target": self.target,
            "selection": self.selection,
            "drives": len(self.drive_ids),
            "uses": self.licence.uses,
            "expires": self.licence.expires.isoformat(),
            "columns": self.licence.columns,
            "anonymise": self.licence.anonymise,
            "created_at": self.created_at.isoformat(),
            "revoked": self.revoked_at is not None,
        }


def _names(values: Sequence[str], what: str, allowed: Sequence[str] | None = None) -> list[str]:
    out = []
    for value in values:
        value = value.strip()
        if not _NAME.match(value) or (allowed is not None and value not in allowed):
            hint = f" (one of {', '.join(allowed)})" if allowed is not None else ""
            raise InputError(what, f"{value!r} is not a valid {what}{hint}")
        out.append(value)
    return out


class Sharing:
    """The sharing state of one lake: registry tables, keys, the audit log, partners' redacted
    frames on disk (at most ``frame_cache_bytes``) and bundle jobs."""

    def __init__(self, lake: Lake, frame_cache_bytes: int = MAX_BYTES) -> None:
        self.lake = lake
        folder = state_dir(lake.uri)
        self.secret = load_secret(folder)
        self.tables = RegistryTables(lake)
        self.audit = AuditLog(folder / "audit.jsonl", self.secret)
        self.frames = FrameCache(folder / "frames", frame_cache_bytes)
        self.bundles = BundleJobs(self)

    # ------------------------------------------------------------------ partners

    def add_partner(self, name: str, contact: str | None = None) -> dict[str, Any]:
        (name,) = _names([name], "partner name")
        if self._partner_row(name) is not None:
            raise InputError("partner", f"partner {name!r} already exists")
        row = {"name": name, "contact": contact, "created_at": now()}
        self.tables.insert("partners", [row], message=f"partner {name}")
        self.audit.append("partner.add", actor="local", partner=name)
        return row

    def partners(self) -> list[dict[str, Any]]:
        return sorted(self.tables.rows("partners"), key=lambda r: r["name"])

    def _partner_row(self, name: str) -> dict[str, Any] | None:
        return next((r for r in self.tables.rows("partners") if r["name"] == name), None)

    def _require_partner(self, name: str) -> None:
        if self._partner_row(name) is None:
            raise NotFoundError(f"no partner {name!r} (add it with `drivelake partner add`)")

    # ------------------------------------------------------------------ shares

    def create_share(
        self,
        target: str,
        *,
        partner: str,
        uses: Sequence[str],
        expires: date,
        anonymise: Sequence[str] = ANONYMISE_LEVELS,
        columns: Sequence[str] | None = None,
        selection: str | None = None,
    ) -> Share:
        """Grant ``partner`` a licence for ``target`` and share it; returns the share."""
        self._require_partner(partner)
        if not uses:
            raise InputError("uses", "a licence names at least one allowed use")
        drive_ids = targets.resolve(self.lake, target, selection)
        licence = {
            "licence_id": f"lic-{secrets.token_hex(6)}",
            "partner": partner,
            "uses": _names(uses, "use"),
            "expires": expires,
            "targets": [target],
            "columns": [c.strip() for c in columns] if columns else None,
            "anonymise": _names(anonymise, "anonymisation level", ANONYMISE_LEVELS),
            "created_at": now(),
        }
        share = {
            "share_id": f"shr-{secrets.token_hex(6)}",
            "partner": partner,
            "target": target,
            "selection": selection,
            "drive_ids": drive_ids,
            "licence_id": licence["licence_id"],
            "created_at": now(),
            "revoked_at": None,
        }
        self.tables.insert("licences", [licence], message=f"licence for {partner}")
        self.tables.insert("shares", [share], message=f"share {target} with {partner}")
        self.audit.append(
            "share.create", actor="local", partner=partner, share=share["share_id"], target=target
        )
        return self.share(share["share_id"])

    def shares(self, partner: str | None = None) -> list[Share]:
        licences = {r["licence_id"]: r for r in self.tables.rows("licences")}
        rows = [r for r in self.tables.rows("shares") if partner is None or r["partner"] == partner]
        return [_share(r, licences[r["licence_id"]]) for r in sorted(rows, key=_created)]

    def share(self, share_id: str, partner: str | None = None) -> Share:
        """One share; with ``partner``, only that partner's (others' are "not found")."""
        for s in self.shares(partner):
            if s.share_id == share_id:
                return s
        raise NotFoundError(f"no share {share_id!r}")

    def open_share(self, share_id: str, principal: keys.Principal) -> Share:
        """The share a principal may read now: its own, not revoked, licence not expired."""
        share = self.share(share_id, None if principal.is_admin else principal.partner)
        if share.revoked_at is not None:
            raise AccessError(f"share {share_id} was revoked")
        share.licence.check_valid()
        return share

    def revoke_share(self, share_id: str) -> None:
        self.share(share_id)
        self.tables.set_revoked("shares", "share_id", share_id)
        self.audit.append("share.revoke", actor="local", share=share_id)

    # ------------------------------------------------------------------ keys

    def create_key(
        self, *, partner: str | None = None, admin: bool = False, actor: str = "local"
    ) -> keys.NewKey:
        """A new API key for a partner (or an admin key); its token is shown only now.

        ``actor`` is who asked, for the audit log: ``local`` (the CLI) or an admin's key id.
        """
        if admin == (partner is not None):
            raise InputError("key", "a key is either for a partner or an admin key")
        if partner is not None:
            self._require_partner(partner)
        new = keys.create_key(self.tables, "admin" if admin else "partner", partner)
        self.audit.append("key.create", actor=actor, key=new.key_id, partner=partner)
        return new

    def list_keys(self) -> list[dict[str, Any]]:
        """Every key without its hash: id, role, partner, created, revoked."""
        hidden = ("salt", "hash")
        rows = sorted(self.tables.rows("api_keys"), key=_created)
        return [{k: v for k, v in r.items() if k not in hidden} for r in rows]

    def revoke_key(self, key_id: str) -> None:
        keys.revoke_key(self.tables, key_id)
        self.audit.append("key.revoke", actor="local", key=key_id)

    def authenticate(self, token: str) -> keys.Principal:
        return keys.authenticate(self.tables, token)


def _created(row: dict[str, Any]) -> datetime:
    return row["created_at"]


def _share(row: dict[str, Any], licence: dict[str, Any]) -> Share:
    return Share(
        share_id=row["share_id"],
        partner=row["partner"],
        target=row["target"],
        selection=row["selection"],
        drive_ids=list(row["drive_ids"] or []),
        licence=Licence(
            licence_id=licence["licence_id"],
            partner=licence["partner"],
            uses=list(licence["uses"] or []),
            expires=licence["expires"],
            targets=list(licence["targets"] or []),
            columns=list(licence["columns"]) if licence["columns"] is not None else None,
            anonymise=list(licence["anonymise"] or []),
        ),
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
    )
