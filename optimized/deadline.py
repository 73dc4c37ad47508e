"""A call's time budget: :class:`Deadline`.

Every public operation gets one (``timeout=`` seconds, or None for no limit). Every
blocking wait in the processor asks it how long it may last (:meth:`Deadline.wait_time`)
and checks it afterwards (:meth:`Deadline.check`), so a call never outlives its
timeout by more than one poll interval.
"""
from __future__ import annotations

import math
import numbers
import time

from .errors import ProcessorTimeoutError

__all__ = ["Deadline"]


class Deadline:
    """An operation's time budget, starting now.

    Parameters
    ----------
    operation : str
        Name of the operation (for the error message).
    timeout : int or float, optional
        Seconds; ``None`` means unlimited.

    Raises
    ------
    TypeError
        ``timeout`` is not a real number (a str or a bool is rejected, not converted).
    ValueError
        ``timeout`` is zero, negative, infinite or NaN.
    """

    def __init__(self, operation: str, timeout: float | None) -> None:
        if timeout is not None:
            if isinstance(timeout, bool) or not isinstance(timeout, numbers.Real):
                raise TypeError(f"timeout must be a number of seconds or None, got "
                                f"{type(timeout).__name__} {timeout!r}")
            if not 0 < timeout < math.inf:  # NaN fails both comparisons
                raise ValueError(f"timeout must be a positive, finite number of seconds or "
                                 f"None, got {timeout!r}")
            try:
                timeout = float(timeout)
            except OverflowError:  # an int beyond the float range: no finite deadline
                raise ValueError(f"timeout must be a positive, finite number of seconds or "
                                 f"None, got an int too large for a float ({timeout!r:.30})"
                                 ) from None
        self.operation = operation
        self.timeout = timeout
        self._end = None if timeout is None else time.monotonic() + timeout

    def remaining(self) -> float | None:
        """Seconds left (may be <= 0), or None when unlimited."""
        return None if self._end is None else self._end - time.monotonic()

    def check(self) -> None:
        """Raise :class:`ProcessorTimeoutError` if the budget is spent."""
        left = self.remaining()
        if self.timeout is not None and left is not None and left <= 0:
            raise ProcessorTimeoutError(self.operation, self.timeout)

    def wait_time(self, cap: float | None = None) -> float | None:
        """How long one blocking wait may last: the remaining budget, at most ``cap``."""
        left = self.remaining()
        if left is None:
            return cap
        return max(0.0, left if cap is None else min(left, cap))
