"""The processor's per-call settings, defined once: :class:`CallOptions`.

The constructor of :class:`~optimized.processor.OptimizedParallelProcessor` takes its
defaults from :data:`DEFAULTS`; every call receives the processor's current settings as
one frozen :class:`CallOptions`, so an operation reads ``call.options.queue_depth``
instead of looking a key up with a default of its own.
"""
from __future__ import annotations

from dataclasses import dataclass

from .chunking import ExecutionMode

__all__ = ["CallOptions", "DEFAULTS"]


@dataclass(frozen=True)
class CallOptions:
    """What a call may be told by its processor.

    Attributes
    ----------
    execution : {"auto", "inline", "pool"}
        ``"auto"``: the cost model chooses per call (D4); the others force a path.
    progress : bool
        Show a progress bar for pooled calls of several tasks.
    batch_size : int
        Items per batch between pipeline stages (R6: 100-1000).
    queue_depth : int
        Batches each pipeline channel holds (the back-pressure).
    matmul_threshold : int
        Matrix dimension above which a product may use the pool (R4: 1000).
    """

    execution: ExecutionMode = "auto"
    progress: bool = False
    batch_size: int = 500
    queue_depth: int = 4
    matmul_threshold: int = 1000


#: The defaults of every setting (the constructor's defaults come from here).
DEFAULTS = CallOptions()
