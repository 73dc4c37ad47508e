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
- **Cluster** (:class:`optimized.backends.dask.ScatteredBuffer`, a :class:`PipeBuffer` whose
  rows are scattered to the workers instead): there is no memory shared
  with remote workers. :meth:`Buffer.pieces` scatters each task's own rows (sent once,
  to one worker); a :meth:`~Buffer.reader` - for operands every task reads whole, such
  as matrix ``B`` - is the array broadcast to every worker; a writer is ``None``, which
  tells :func:`write_block` to return the block, and :meth:`Buffer.place` copies the
  returned blocks into the parent's array (by the absolute rows the parent kept).

The same task function serves both, so no operation knows which backend it has (D12).
"""
from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from .errors import SharedMemoryFullError, format_bytes, shm_size_hint
from .shm import ArraySpec, SharedArray, attached

__all__ = ["Buffer", "SharedBuffer", "PipeBuffer", "LocalPlacement", "opened", "write_block"]

logger = logging.getLogger("optimized")


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


class LocalPlacement:
    """Where a local pool's call puts an array: shared memory, or the pipes when it must.

    Parameters
    ----------
    shm : {"auto", "require", "never"}
        ``"auto"``: a shared-memory segment while /dev/shm has room, else a
        :class:`PipeBuffer` with one WARNING per placement policy (per processor);
        ``"require"``: a segment or :class:`~optimized.errors.SharedMemoryFullError`;
        ``"never"``: always a :class:`PipeBuffer`.

    Notes
    -----
    Once one buffer of a call goes through the pipes, every buffer made while it is
    open does too: a pipe buffer's pieces are relative to each task's slice and cannot
    be paired with a shared writer (see :class:`PipeBuffer`).
    """

    MODES = ("auto", "require", "never")

    def __init__(self, shm: str = "auto") -> None:
        if shm not in self.MODES:
            raise ValueError(f"shm must be one of {self.MODES}, got {shm!r}")
        self.shm = shm
        self._open_pipe_buffers = 0
        self._warned = False

    def place(self, shared: Callable[[], SharedArray],
              local: Callable[[], np.ndarray]) -> Buffer:
        """``SharedBuffer(shared())`` where allowed and possible, else ``PipeBuffer(local())``.

        Raises
        ------
        SharedMemoryFullError
            /dev/shm has no room and the mode is ``"require"``.
        TypeError
            The array holds Python objects (neither transport carries them).
        """
        if self.shm != "never" and self._open_pipe_buffers == 0:
            try:
                return SharedBuffer(shared())
            except SharedMemoryFullError as exc:
                if self.shm == "require":
                    raise
                self._warn_no_room(exc)
        array = local()
        if array.dtype.hasobject:
            raise TypeError(f"shared arrays hold fixed-size numbers, not {array.dtype}")
        self._open_pipe_buffers += 1
        return PipeBuffer(array, self._released)

    def _released(self) -> None:
        self._open_pipe_buffers -= 1

    def _warn_no_room(self, exc: SharedMemoryFullError) -> None:
        if self._warned:
            return
        self._warned = True
        logger.warning(
            "/dev/shm has %s free, too little for this call's %s array: its data goes "
            "through the pool's pipes instead (same results, slower for large arrays). "
            "Give the container more shared memory, e.g. docker run --shm-size=%s; "
            "shm='never' chooses the pipes without this warning",
            format_bytes(exc.free), format_bytes(exc.needed), shm_size_hint(exc.needed))


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
