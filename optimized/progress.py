"""Optional progress bar for long calls (``progress=True``).

Uses :mod:`tqdm` when it is installed (it is in the ``harness`` extra); without it,
``progress=True`` logs a one-time notice and shows nothing.
"""
from __future__ import annotations

import logging
from typing import Any

__all__ = ["Progress", "make_progress"]

#: Calls with fewer tasks than this show no bar: they end before it would be read.
MIN_TASKS_FOR_BAR = 4


class Progress:
    """Counts finished items of one call; a no-op unless a bar is attached.

    Parameters
    ----------
    bar : tqdm-like, optional
        An object with ``update(n)`` and ``close()``; None for no display.
    """

    def __init__(self, bar: Any = None) -> None:
        self._bar = bar

    def advance(self, items: int) -> None:
        """``items`` more are done.

        Parameters
        ----------
        items : int
            Number of items just finished.
        """
        if self._bar is not None:
            self._bar.update(items)

    def close(self) -> None:
        """Remove the bar (idempotent; later :meth:`advance` calls do nothing)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def make_progress(enabled: bool, operation: str, total: int, tasks: int) -> Progress:
    """A :class:`Progress`, with a tqdm bar when enabled and the call is long enough.

    Parameters
    ----------
    enabled : bool
        The processor's ``progress`` setting.
    operation : str
        Label shown on the bar (the method name).
    total : int
        Items the call will process (the bar's 100%).
    tasks : int
        Tasks the call dispatches; below :data:`MIN_TASKS_FOR_BAR` no bar is shown.

    Returns
    -------
    Progress
        With a tqdm bar attached, or a no-op one (disabled, too few tasks, or tqdm
        not installed - the last case logs an info message instead).
    """
    if not enabled or tasks < MIN_TASKS_FOR_BAR:
        return Progress()
    try:
        from tqdm.auto import tqdm
    except ImportError:
        logging.getLogger("optimized").info("progress=True needs tqdm (pip install tqdm)")
        return Progress()
    return Progress(tqdm(total=total, desc=operation, unit="item", leave=False))
