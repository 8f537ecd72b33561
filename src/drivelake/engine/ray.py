"""The Ray engine: the same stage functions as Ray tasks (``pip install drivelake[ray]``).

Workers read and write the same Lance tables, so the lake root must be on storage every node
sees (an object-store URI or a shared file system).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from drivelake.errors import EngineError

T = TypeVar("T")
R = TypeVar("R")


class RayEngine:
    def __init__(self, jobs: int = 1, address: str | None = None, **init_options: Any) -> None:
        try:
            import ray
        except ImportError as exc:
            raise EngineError("the Ray engine needs Ray: pip install 'drivelake[ray]'") from exc
        self._ray = ray
        if not ray.is_initialized():
            ray.init(address=address, ignore_reinit_error=True, **init_options)
        self.jobs = jobs

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[tuple[T, R]]:
        ray = self._ray
        remote = ray.remote(fn)
        pending = {remote.remote(item): item for item in items}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                yield pending.pop(ref), ray.get(ref)
