"""The Ray engine: the same stage functions as Ray tasks (``pip install drivelake[ray]``).

Workers read and write the same Lance tables, so the lake root must be on storage every node
sees (an object-store URI or a shared file system). Without an ``address`` Ray starts a local
instance, as ``ray.init()`` does; with one (or ``RAY_ADDRESS`` set) it joins that cluster.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from drivelake.errors import EngineError

T = TypeVar("T")
R = TypeVar("R")


class RayEngine:
    """Runs ``fn`` over items as Ray tasks, at most ``jobs`` in flight (0: as many as Ray will)."""

    def __init__(self, jobs: int = 0, address: str | None = None, **init_options: Any) -> None:
        try:
            import ray
        except ImportError as exc:
            raise EngineError("the Ray engine needs Ray: pip install 'drivelake[ray]'") from exc
        self._ray = ray
        if not ray.is_initialized():
            init_options.setdefault("include_dashboard", False)
            init_options.setdefault("logging_level", logging.WARNING)
            ray.init(address=address, **init_options)
        self.jobs = max(0, int(jobs))

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[tuple[T, R]]:
        """Yield ``(item, result)`` as tasks finish; submits more as earlier ones complete."""
        ray = self._ray
        remote = ray.remote(fn)
        queue = iter(items)
        pending: dict[Any, T] = {}

        def submit() -> bool:
            item = next(queue, _END)
            if item is _END:
                return False
            pending[remote.remote(item)] = item
            return True

        while (not self.jobs or len(pending) < self.jobs) and submit():
            pass
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                item = pending.pop(ref)
                submit()
                yield item, ray.get(ref)


_END: Any = object()
