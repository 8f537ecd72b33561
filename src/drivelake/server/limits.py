"""Request-size limit and per-key rate limit, as plain ASGI middleware (cheap, framework-free).

The size limit trusts neither the client's ``Content-Length`` nor its absence: it also counts the
bytes as they arrive. The rate limit is a token bucket per presented key id (or per client
address without a key), kept in memory: one server process enforces it, which is what
``drivelake serve`` runs.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.datastructures import Headers

from drivelake.server.auth import presented_token

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


async def send_error(send: Send, status: int, message: str, headers: dict[str, str] | None = None):
    body = json.dumps({"error": message}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class BodyTooLarge(Exception):
    """Raised from ``receive`` when a streamed body passes the limit."""


class BodyLimit:
    """Answer 413 to requests whose body is larger than ``max_bytes``."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = Headers(scope=scope).get("content-length", "0")
        if not length.isdigit() or int(length) > self.max_bytes:
            await send_error(send, 413, f"request body over the {self.max_bytes}-byte limit")
            return
        seen = 0

        async def counted() -> MutableMapping[str, Any]:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise BodyTooLarge
            return message

        started = False

        async def tracked(message: MutableMapping[str, Any]) -> None:
            nonlocal started
            started |= message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except BodyTooLarge:
            if not started:
                await send_error(send, 413, f"request body over the {self.max_bytes}-byte limit")


class RateLimit:
    """Token bucket per caller: ``rate`` requests per second, bursts up to ``burst``."""

    def __init__(self, app: ASGIApp, rate: float, burst: int) -> None:
        self.app = app
        self.rate = rate
        self.burst = burst
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def _allow(self, caller: str) -> bool:
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(caller, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            allowed = tokens >= 1.0
            self._buckets[caller] = (tokens - 1.0 if allowed else tokens, now)
            return allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = presented_token(Headers(scope=scope))
        client = scope.get("client") or ("unknown", 0)
        caller = f"key:{token.split('_')[1]}" if token and token.count("_") >= 2 else client[0]
        if not self._allow(caller):
            retry = f"{max(1, round(1 / self.rate))}"
            await send_error(send, 429, "rate limit exceeded; slow down", {"retry-after": retry})
            return
        await self.app(scope, receive, send)
