"""Where tasks run: the :class:`Backend` seam (D12) and its implementations.

- :mod:`.base` - :class:`Backend`, the one interface every operation uses.
- :mod:`.local` - :class:`LocalBackend`, one reused process pool on this machine, with
  :mod:`.local_pipeline` (stage loops over inherited channels) and :mod:`.executor`
  (what it needs of ``ProcessPoolExecutor`` beyond the public API).
- :mod:`.dask` - ``DaskBackend``, a Dask distributed cluster. Not imported here: the
  processor imports it only when given ``scheduler=``, and it imports ``distributed``
  only when constructed (with an install hint if it is missing).
"""
from .base import Backend
from .local import SHM_MODES, START_METHODS, LocalBackend

__all__ = ["Backend", "LocalBackend", "START_METHODS", "SHM_MODES"]
