"""The HTTP API: a thin FastAPI layer over the Python API, served by ``drivelake serve``.

Importing this package imports FastAPI; ``import drivelake`` and the CLI do not import it.

    app       create_app(lake, config): routers, middleware, error handlers, the static mount
    auth      API keys from headers -> a Principal; admin-only and share-scoped access
    limits    request-size limit and a per-key rate limit (plain ASGI middleware)
    audit     one audit-log entry per request
    errors    every error as JSON {"error": "..."}, never a stack trace
    routes/   lake (drives, signals, events, frames, search), sharing (shares, partners,
              keys, audit, datasets)
"""

from drivelake.server.app import ServerConfig, create_app

__all__ = ["ServerConfig", "create_app"]
