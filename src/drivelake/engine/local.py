"""The embedded default: a process pool on this machine (or the calling process for jobs=1)."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


class LocalEngine:
    """Runs ``fn`` over items in ``jobs`` worker processes (spawned: safe with Lance's threads)."""

    def __init__(self, jobs: int = 1) -> None:
        self.jobs = max(1, int(jobs))

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[tuple[T, R]]:
        items = list(items)
        if self.jobs == 1 or len(items) <= 1:
            for item in items:
                yield item, fn(item)
            return
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=min(self.jobs, len(items)), mp_context=ctx) as pool:
            futures = {pool.submit(fn, item): item for item in items}
            for future in as_completed(futures):
                yield futures[future], future.result()
