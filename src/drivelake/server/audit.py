"""One audit-log entry per API request: who (key id, role, partner), what, and the outcome.

It wraps everything else, so refused requests (401, 413, 429) are recorded too. Only paths
under ``/api`` are recorded: the web app's page, scripts, styles and icons (and the OpenAPI
docs) carry no lake data, and an entry for each would bury the real ones. The query string is
kept (search text is part of what was asked) but cut short; bodies are not recorded.
"""

from __future__ import annotations

from typing import Any

from drivelake.server.limits import ASGIApp, Receive, Scope, Send
from drivelake.share.audit import AuditLog

_MAX_QUERY = 256
API = "/api"


def audited(path: str) -> bool:
    """Whether a request for ``path`` is recorded: the API's, not the app's static files."""
    return path == API or path.startswith(API + "/")


class AuditRequests:
    def __init__(self, app: ASGIApp, log: AuditLog) -> None:
        self.app = app
        self.log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not audited(scope["path"]):
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})
        logged = False

        def record(status: int) -> None:
            nonlocal logged
            logged = True
            who = scope["state"].get("principal")
            self.log.append(
                "http",
                actor=who.key_id if who else None,
                role=who.role if who else None,
                partner=who.partner if who else None,
                method=scope["method"],
                path=scope["path"],
                query=scope.get("query_string", b"").decode("latin-1")[:_MAX_QUERY],
                status=status,
                client=(scope.get("client") or ("", 0))[0],
            )

        async def capture(message: Any) -> None:
            # the entry lands before the response leaves: a client never sees an unaudited answer
            if message["type"] == "http.response.start":
                record(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            if not logged:
                record(500)
