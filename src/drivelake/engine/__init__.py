"""Execution engines: run a stage function over many items, locally or on Ray.

An engine is one method, ``map(fn, items)``, yielding ``(item, result)`` as each finishes;
``fn`` must be a picklable module-level function. Choosing the engine is a flag, not a rewrite.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol, TypeVar

from drivelake.errors import EngineError

T = TypeVar("T")
R = TypeVar("R")


class Engine(Protocol):
    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[tuple[T, R]]: ...


def get_engine(name: str = "local", jobs: int = 1, **options: Any) -> Engine:
    """The engine called ``name``; an unknown name lists the valid ones."""
    if name == "local":
        from drivelake.engine.local import LocalEngine

        return LocalEngine(jobs=jobs)
    if name == "ray":
        from drivelake.engine.ray import RayEngine

        return RayEngine(jobs=jobs, **options)
    raise EngineError(f"unknown engine {name!r}; choose one of: local, ray")
