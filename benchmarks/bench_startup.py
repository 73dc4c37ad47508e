"""Processor start-up and shutdown, on their own (every other suite times a warm pool).

``time_startup`` is the constructor: for the optimized processor, the pool with all its
workers started and answering (R1); the baseline starts nothing up front (it pays a
process per item instead), so its figure is the floor. ``time_close`` is the shutdown.
"""
from __future__ import annotations

import functools
import multiprocessing as mp
from typing import Any

from .common import GATE_WORKERS, close_processor, make_processor

_START_METHODS = [m for m in ("fork", "forkserver", "spawn") if m in mp.get_all_start_methods()]


def _factory(impl: str, start_method: str) -> Any:
    if impl == "baseline":
        if start_method != "fork":
            raise NotImplementedError("the baseline works with the fork start method only (D10)")
        return functools.partial(make_processor, "baseline", GATE_WORKERS)
    return functools.partial(make_processor, "optimized", GATE_WORKERS,
                             start_method=start_method)


class ProcessorStartup:
    """Processor construction: the optimized pool with every worker started (R1)."""

    params = [["baseline", "optimized"], _START_METHODS]
    param_names = ["impl", "start_method"]
    number = 1  # one processor per setup/teardown pair, whatever the asv_runner version
    repeat = (3, 8, 5.0)
    warmup_time = 0.0
    timeout = 180.0

    def setup(self, impl: str, start_method: str) -> None:
        self.made: list[Any] = []
        self.factory = _factory(impl, start_method)

    def teardown(self, impl: str, start_method: str) -> None:
        for p in getattr(self, "made", ()):
            close_processor(p)
        self.made = []

    def time_startup(self, impl: str, start_method: str) -> None:
        self.made.append(self.factory())


class ProcessorClose:
    """Processor shutdown: every worker joined, nothing left behind."""

    params = [["baseline", "optimized"], _START_METHODS]
    param_names = ["impl", "start_method"]
    number = 1
    repeat = (3, 8, 5.0)
    warmup_time = 0.0
    timeout = 180.0

    def setup(self, impl: str, start_method: str) -> None:
        self.processor: Any = None
        self.processor = _factory(impl, start_method)()

    def teardown(self, impl: str, start_method: str) -> None:
        # asv calls teardown after a skipping setup too; closing twice is harmless.
        close_processor(getattr(self, "processor", None))

    def time_close(self, impl: str, start_method: str) -> None:
        close_processor(self.processor)
