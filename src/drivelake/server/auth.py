"""Who is calling: an API key from ``Authorization: Bearer KEY`` or ``X-API-Key``.

No key or a bad, unknown or revoked key is 401. Admin keys reach everything; partner keys reach
only ``/api/shares/...`` of their own shares (another partner's share is "not found", so its
existence does not leak), and other admin routes answer 403.
"""

from __future__ import annotations

from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from drivelake.errors import AccessError
from drivelake.share import Principal, Sharing

_bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer KEY")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="X-API-Key: KEY")


def presented_token(headers) -> str | None:
    """The key a request presents, whichever header carries it."""
    auth = headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip() or None
    return headers.get("x-api-key") or None


def sharing(request: Request) -> Sharing:
    return request.app.state.sharing


def principal(
    request: Request,
    bearer: HTTPAuthorizationCredentials | None = Depends(_bearer),
    header: str | None = Depends(_header),
) -> Principal:
    """The caller; 401 without a valid key. Recorded on the request for the audit log."""
    token = bearer.credentials if bearer else header
    if not token:
        raise HTTPException(401, "missing API key: send 'Authorization: Bearer KEY' or 'X-API-Key'")
    try:
        who = request.app.state.sharing.authenticate(token)
    except AccessError as exc:
        raise HTTPException(401, str(exc)) from exc
    request.state.principal = who
    return who


def admin(who: Principal = Depends(principal)) -> Principal:
    """The caller, who must hold an admin key."""
    if not who.is_admin:
        raise HTTPException(403, "this route needs an admin key; partners read through /api/shares")
    return who
