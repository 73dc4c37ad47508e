"""The original's API on joblib: ``Parallel(n_jobs)(delayed(f)(chunk) for chunk in ...)``.

The loky backend (joblib's default): its worker processes are started on the first call
and reused by the next ones, as joblib does for every user. Chunks, NumPy and the rest as
in :mod:`references.base`.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from joblib import Parallel, delayed

from .base import OriginalAPI


class JoblibProcessor(OriginalAPI):
    """joblib ``Parallel`` with ``num_workers`` jobs behind the original's methods."""

    def __init__(self, num_workers: int = 4, item_latency_s: float = 0.001) -> None:
        super().__init__(num_workers, item_latency_s)
        self._parallel = Parallel(n_jobs=num_workers)

    def _run(self, fn: Callable[..., Any], calls: Iterable[tuple[Any, ...]]) -> list[Any]:
        return list(self._parallel(delayed(fn)(*args) for args in calls))
