"""Search the fleet by words, by example and by telemetry: see :mod:`drivelake.search.query`."""

from drivelake.search.query import search

__all__ = ["search"]
