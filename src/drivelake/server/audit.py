"""One audit-log entry per HTTP request: who (key id, role, partner), what, and the outcome.

It wraps everything else, so refused requests (401, 413, 429) are recorded too. The query string
is kept (search text is part of what was asked) but cut short; bodies are not recorded.
"""

from __future__ import annotations

from typing import Any

from drivelake.server.limits import ASGIApp, Receive, Scope, Send
from drivelake.share.audit import AuditLog

_MAX_QUERY = 256


class AuditRequests:
    def __init__(self, app: ASGIApp, log: AuditLog) -> None:
        self.app = app
        self.log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
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
