"""Where a call's arrays live while tasks work on them: the data-movement half of the seam.

An operation never creates shared memory or scatters data itself; it asks its backend
for a :class:`Buffer` and hands tasks the buffer's *references*:

    parent (operation)                              task (in a worker)
    ------------------                              ------------------
    with backend.share(x) as src,                   with opened(src_ref) as x:
         backend.buffer(shape, dt) as dst:              block = f(x[lo:hi])
        run(task, [(ref, dst.writer(), lo, hi)      return write_block(dst_ref, lo, hi, block)
                   for ref, lo, hi in src.pieces(bounds)])
        dst.place(bounds, results)
        dst.array  -> the result

- **Local pool** (:class:`SharedBuffer`): the array is a shared-memory segment; a
  reader and a writer are the same small :class:`~optimized.shm.ArraySpec`, tasks
  attach by name and write their block in place (nothing but the spec crosses the
  task queue), and :meth:`Buffer.place` has nothing left to do.
- **Local pool without room in /dev/shm** (:class:`PipeBuffer`): the array stays in
  the parent. :meth:`Buffer.pieces` puts each task's own rows into its pickled task
  (through the pool's pipes, as ``Pool.map`` sends a chunk), a reader is the whole
  array in each task, a writer is ``None`` and :meth:`Buffer.place` copies the
  returned blocks in. Slower than shared memory for large arrays, never a SIGBUS.
- **Cluster** (:class:`optimized.cluster.ScatteredBuffer`, a :class:`PipeBuffer` whose
  rows are scattered to the workers instead): there is no memory shared
  with remote workers. :meth:`Buffer.pieces` scatters each task's own rows (sent once,
  to one worker); a :meth:`~Buffer.reader` - for operands every task reads whole, such
  as matrix ``B`` - is the array broadcast to every worker; a writer is ``None``, which
  tells :func:`write_block` to return the block, and :meth:`Buffer.place` copies the
  returned blocks into the parent's array (by the absolute rows the parent kept).

The same task function serves both, so no operation knows which backend it has (D12).
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from .shm import ArraySpec, SharedArray, attached

__all__ = ["Buffer", "SharedBuffer", "PipeBuffer", "opened", "write_block"]


class Buffer(ABC):
    """An array a call's tasks read from or write into, owned by the parent.

    Use it as a context manager (the backend's ``share``/``buffer`` return one):
    leaving the block releases whatever the buffer holds - a shared-memory segment,
    or the scattered copies on a cluster - on every path, errors included.
    """

    @property
    @abstractmethod
    def array(self) -> np.ndarray:
        """The parent's array (fill it before :meth:`reader`; read it after :meth:`place`)."""

    @abstractmethod
    def reader(self) -> Any:
        """What a task needs to read the array (see :func:`opened`)."""

    def pieces(self, bounds: Sequence[tuple[int, int]]) -> list[tuple[Any, int, int]]:
        """``(reference, lo, hi)`` per task, for tasks that each read rows ``bounds[i]`` only.

        The default hands every task the whole array's :meth:`reader` with the
        absolute rows. A cluster sends each task its own rows instead (and the rows
        relative to them), so no byte of a large input travels to more than one worker.
        """
        ref = self.reader()
        return [(ref, lo, hi) for lo, hi in bounds]

    @abstractmethod
    def writer(self) -> Any:
        """What a task needs to write its block (see :func:`write_block`)."""

    @abstractmethod
    def place(self, bounds: Sequence[tuple[int, int]], results: Sequence[Any]) -> None:
        """Put each task's block ``results[i]`` at rows ``bounds[i]`` (where tasks returned them)."""

    @abstractmethod
    def release(self) -> None:
        """Free what the buffer holds. Idempotent."""

    def __enter__(self) -> Buffer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class SharedBuffer(Buffer):
    """A buffer in a shared-memory segment of this machine (the local pool's buffer).

    Parameters
    ----------
    shared : SharedArray
        The segment; this buffer owns it from now on.
    """

    def __init__(self, shared: SharedArray) -> None:
        self._shared = shared

    @property
    def array(self) -> np.ndarray:
        """The parent's view of the segment."""
        return self._shared.array

    def reader(self) -> ArraySpec:
        """The segment's spec: tasks attach to it by name."""
        return self._shared.spec

    def writer(self) -> ArraySpec:
        """The same spec: tasks write their block straight into the segment."""
        return self._shared.spec

    def place(self, bounds: Sequence[tuple[int, int]], results: Sequence[Any]) -> None:
        """Nothing to do: the blocks are already in place (the tasks returned None)."""
        if any(r is not None for r in results):
            raise RuntimeError("a task returned a block for a shared-memory buffer; blocks "
                               "are written in place")

    def release(self) -> None:
        """Close and unlink the segment."""
        self._shared.release()


class PipeBuffer(Buffer):
    """A buffer that lives in the parent: its rows travel inside the tasks (pickled).

    Parameters
    ----------
    array : numpy.ndarray
        The parent's array (not copied; fill it before :meth:`pieces`).
    on_release : callable, optional
        Called once by :meth:`release` (the backend counts open pipe buffers).

    Notes
    -----
    :meth:`pieces` hands out rows *relative* to each task's own slice, so a writer
    paired with them must be ``None`` too: the local backend makes every buffer of a
    call a pipe buffer once one is.
    """

    def __init__(self, array: np.ndarray,
                 on_release: Callable[[], None] | None = None) -> None:
        self._array = array
        self._on_release = on_release

    @property
    def array(self) -> np.ndarray:
        """The parent's array."""
        return self._array

    def reader(self) -> Any:
        """The whole array, sent with every task that reads it."""
        return self._array

    def pieces(self, bounds: Sequence[tuple[int, int]]) -> list[tuple[Any, int, int]]:
        """Each task's own rows (a view, pickled with the task) and ``0, hi - lo``."""
        return [(self._array[lo:hi], 0, hi - lo) for lo, hi in bounds]

    def writer(self) -> None:
        """None: tasks return their blocks and :meth:`place` puts them in."""
        return None

    def place(self, bounds: Sequence[tuple[int, int]], results: Sequence[Any]) -> None:
        """Copy every returned block into rows ``bounds[i]`` of the parent's array."""
        for (lo, hi), block in zip(bounds, results, strict=True):
            self._array[lo:hi] = block

    def release(self) -> None:
        """Tell the owner once; the array itself is the parent's and stays readable."""
        callback, self._on_release = self._on_release, None
        if callback is not None:
            callback()


@contextmanager
def opened(ref: Any) -> Iterator[np.ndarray]:
    """Task side: the array behind a buffer's reader or writer, for the block's duration.

    Parameters
    ----------
    ref : ArraySpec or numpy.ndarray
        A shared-memory spec (attached for the block, closed on exit: keep no view of
        it past the block), or an array already delivered with the task (a cluster
        resolves a scattered reference to its data before the task starts).

    Yields
    ------
    numpy.ndarray
    """
    if isinstance(ref, ArraySpec):
        with attached(ref) as view:
            yield view
    elif isinstance(ref, np.ndarray):
        yield ref
    else:
        raise TypeError(f"a buffer reference is an ArraySpec or an ndarray, got "
                        f"{type(ref).__name__}")


def write_block(ref: Any, lo: int, hi: int, block: Any) -> np.ndarray | None:
    """Task side: store ``block`` as rows ``lo:hi`` of a buffer, or return it.

    Parameters
    ----------
    ref : ArraySpec or None
        A buffer's :meth:`~Buffer.writer`. ``None`` means the parent places the
        block itself (:meth:`Buffer.place`): it is returned as an array.
    lo, hi : int
        The rows (first axis) the block covers.
    block : array-like
        ``hi - lo`` rows.

    Returns
    -------
    numpy.ndarray or None
        The block where ``ref`` is None, else None (written in place).
    """
    if ref is None:
        return np.asarray(block)
    with opened(ref) as out:
        out[lo:hi] = block
    return None
