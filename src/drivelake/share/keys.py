"""Scoped API keys: random, shown once, stored only as a salted hash, revocable.

A key reads ``dlk_<key_id>_<secret>``. The ``key_id`` is public (it names the key in lists, the
audit log and ``key revoke``); the secret part is 32 random bytes. Only ``sha256(salt || secret)``
with a per-key salt is stored, compared in constant time. A slow hash (scrypt) protects guessable
passwords; a 256-bit random secret cannot be guessed, and a fast hash keeps authentication off
the request's critical path.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Literal

from drivelake.errors import AccessError, NotFoundError
from drivelake.share.tables import RegistryTables, now

PREFIX = "dlk"
_KEY = re.compile(rf"^{PREFIX}_([0-9a-f]{{12}})_([A-Za-z0-9_-]{{43}})$")

Role = Literal["admin", "partner"]


@dataclass(frozen=True)
class Principal:
    """Who a request acts as: an admin, or a partner limited to its own shares."""

    key_id: str
    role: Role
    partner: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True)
class NewKey:
    """A freshly created key: ``token`` is the only time the full key is ever available."""

    key_id: str
    token: str
    role: Role
    partner: str | None


def _digest(salt: str, secret: str) -> str:
    return hashlib.sha256(bytes.fromhex(salt) + secret.encode()).hexdigest()


def create_key(tables: RegistryTables, role: Role, partner: str | None = None) -> NewKey:
    key_id, secret, salt = secrets.token_hex(6), secrets.token_urlsafe(32), secrets.token_hex(16)
    row = {
        "key_id": key_id,
        "role": role,
        "partner": partner,
        "salt": salt,
        "hash": _digest(salt, secret),
        "created_at": now(),
        "revoked_at": None,
    }
    tables.insert("api_keys", [row], message=f"key {key_id} for {partner or 'admin'}")
    return NewKey(key_id, f"{PREFIX}_{key_id}_{secret}", role, partner)


def authenticate(tables: RegistryTables, token: str) -> Principal:
    """The principal a presented key stands for; AccessError if it is unknown or revoked."""
    match = _KEY.match(token.strip())
    if match is None:
        raise AccessError("malformed API key")
    key_id, secret = match.groups()
    row = next((r for r in tables.rows("api_keys") if r["key_id"] == key_id), None)
    if row is None or not hmac.compare_digest(row["hash"], _digest(row["salt"], secret)):
        raise AccessError("unknown API key")
    if row["revoked_at"] is not None:
        raise AccessError(f"API key {key_id} was revoked")
    return Principal(key_id, row["role"], row["partner"])


def revoke_key(tables: RegistryTables, key_id: str) -> None:
    if not any(r["key_id"] == key_id for r in tables.rows("api_keys")):
        raise NotFoundError(f"no API key {key_id!r}")
    tables.set_revoked("api_keys", "key_id", key_id)
