"""Shared-memory NumPy arrays for handing numeric data to pool workers (R3, D5).

The pool is created once (R1), so a ``multiprocessing.Array`` made for one call
cannot reach workers that already exist (it travels only by inheritance). Per-call
arrays therefore live in ``multiprocessing.shared_memory`` segments: the parent owns
and always unlinks them (context manager, on every path: success, error, timeout,
crash, Ctrl-C); a worker attaches by name for the duration of one task and only
closes. What crosses the task queue is a small :class:`ArraySpec`, never the data.

Every segment's pages are reserved when it is created (``posix_fallocate``). A tmpfs
accepts an ``ftruncate`` of any size and delivers SIGBUS - which kills the process,
uncatchably - when a page past its space is first touched; a container's default
/dev/shm is 64 MB. Reserving up front turns that into :class:`SharedMemoryFullError`
at creation, which the backend answers by moving the call's data through the pool's
pipes instead (:class:`optimized.buffers.PipeBuffer`).

Parent                                        worker
------                                        ------
with SharedArray.copy_of(x) as sx:            with attached(spec) as view:
    submit(task, sx.spec, lo, hi)  --spec-->      out[lo:hi] = f(view[lo:hi])
    ...results...                             (segment closed, never unlinked here)
(segment closed + unlinked)
"""
from __future__ import annotations

import errno
import mmap
import os
import secrets
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing import shared_memory

import numpy as np
from numpy.typing import DTypeLike

from .errors import SharedMemoryFullError

__all__ = ["ArraySpec", "SharedArray", "attached", "live_segments", "SEGMENT_PREFIX",
           "SHM_DIR", "SHM_RESERVE_BYTES", "segment_prefix", "shm_free_bytes",
           "unlink_segments_of"]

#: Where POSIX shared memory lives on Linux: a tmpfs (64 MB in a default container).
SHM_DIR = "/dev/shm"
#: Space a new segment must leave free in :data:`SHM_DIR`: multiprocessing's locks and
#: queue semaphores live there too, and a pool restarted after a worker death needs
#: new ones (a few pages each).
SHM_RESERVE_BYTES = 1 << 20

#: Every segment this package creates is named ``/dev/shm/ppd_<owner pid>_<random>``:
#: tests use it to prove that nothing a given process created is left behind.
SEGMENT_PREFIX = "ppd_"


def segment_prefix(pid: int | None = None) -> str:
    """Name prefix of the segments created by process ``pid`` (default: this one).

    Parameters
    ----------
    pid : int, optional
        Process id of the owner; default ``os.getpid()``.

    Returns
    -------
    str
        ``"ppd_<pid>_"``: every segment that process creates starts with it.
    """
    return f"{SEGMENT_PREFIX}{os.getpid() if pid is None else pid}_"


def shm_free_bytes() -> int | None:
    """Bytes free in :data:`SHM_DIR` for this user, or None where it cannot be read."""
    try:
        st = os.statvfs(SHM_DIR)
    except OSError:
        return None
    return st.f_bavail * st.f_frsize


def unlink_segments_of(pids: Iterable[int]) -> list[str]:
    """Unlink every segment created by the (dead) processes ``pids``.

    A worker that dies holds no reference the parent could release, and its segments
    would otherwise stay until the machine reboots. Call it only for processes that
    have exited.

    Parameters
    ----------
    pids : iterable of int
        Process ids whose segments (``ppd_<pid>_*``) go.

    Returns
    -------
    list of str
        The names unlinked.
    """
    gone: list[str] = []
    for pid in pids:
        try:
            names = [n for n in os.listdir(SHM_DIR) if n.startswith(segment_prefix(pid))]
        except OSError:  # no /dev/shm on this platform: segments live elsewhere
            return gone
        for name in names:
            try:
                os.unlink(os.path.join(SHM_DIR, name))
                gone.append(name)
            except FileNotFoundError:
                pass
    return gone


def _reserve(shm: shared_memory.SharedMemory, nbytes: int) -> None:
    """Allocate the segment's pages now: ENOSPC here instead of SIGBUS on first touch."""
    if not hasattr(os, "posix_fallocate"):  # e.g. macOS: no tmpfs size limit to hit
        return
    try:
        # SharedMemory keeps its descriptor open on POSIX (CPython 3.8-3.13).
        os.posix_fallocate(shm._fd, 0, nbytes)  # type: ignore[attr-defined]
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.ENOMEM, errno.EFBIG):
            raise SharedMemoryFullError(nbytes, shm_free_bytes()) from exc
        if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENODEV):
            raise
        # A filesystem that cannot reserve: the free-space check already ran.


_live: set[str] = set()
_live_lock = threading.Lock()


def live_segments() -> set[str]:
    """Names of the segments this process created and has not yet unlinked.

    Returns
    -------
    set of str
        A snapshot (a copy: later creations or releases do not change it).
    """
    with _live_lock:
        return set(_live)


@dataclass(frozen=True)
class ArraySpec:
    """Picklable handle of a shared array: what a worker needs to attach to it.

    Attributes
    ----------
    name : str
        Shared-memory segment name (without the leading ``/``).
    shape : tuple of int
        Array shape.
    dtype : str
        NumPy dtype string (``numpy.dtype.str``, e.g. ``"<f8"``).
    """

    name: str
    shape: tuple[int, ...]
    dtype: str


class SharedArray:
    """A NumPy array in a shared-memory segment owned by this (parent) process.

    Parameters
    ----------
    shape : tuple of int
        Array shape (the segment holds ``prod(shape) * itemsize`` bytes, at least 1).
    dtype : numpy dtype-like
        Element type (fixed-size numeric types only).

    Attributes
    ----------
    array : numpy.ndarray
        The parent's view of the segment (uninitialised contents); reading it after
        :meth:`release` raises ``RuntimeError``.
    spec : ArraySpec
        What to send to workers so they can :func:`attached` to it.

    Raises
    ------
    TypeError
        ``dtype`` holds Python objects (``dtype.hasobject``).
    SharedMemoryFullError
        :data:`SHM_DIR` cannot hold the segment and :data:`SHM_RESERVE_BYTES` more
        (nothing is left behind).

    Notes
    -----
    Use as a context manager; :meth:`release` is idempotent and unlinks the segment.
    """

    def __init__(self, shape: tuple[int, ...], dtype: DTypeLike) -> None:
        dt = np.dtype(dtype)
        if dt.hasobject:
            raise TypeError(f"shared arrays hold fixed-size numbers, not {dt}")
        nbytes = max(1, int(np.prod(shape, dtype=np.int64)) * dt.itemsize)
        free = shm_free_bytes()
        if free is not None and nbytes + SHM_RESERVE_BYTES > free:
            raise SharedMemoryFullError(nbytes, free, SHM_RESERVE_BYTES)
        name = segment_prefix() + secrets.token_hex(8)
        shm = shared_memory.SharedMemory(name=name, create=True, size=nbytes)
        with _live_lock:
            _live.add(shm.name)
        self._shm: shared_memory.SharedMemory | None = shm
        try:
            _reserve(shm, nbytes)  # another process may have taken the space meanwhile
        except BaseException:
            self.release()
            raise
        self.spec = ArraySpec(self._shm.name, tuple(int(s) for s in shape), dt.str)
        self._array: np.ndarray | None = np.ndarray(shape, dtype=dt, buffer=self._shm.buf)

    @property
    def array(self) -> np.ndarray:
        """The parent's view of the segment; ``RuntimeError`` once released."""
        if self._array is None:
            raise RuntimeError(f"shared array {self.spec.name} was already released")
        return self._array

    @classmethod
    def copy_of(cls, arr: np.ndarray, dtype: DTypeLike | None = None) -> SharedArray:
        """A new shared array holding a copy of ``arr`` (converted to ``dtype`` if given).

        Parameters
        ----------
        arr : array_like
            The data to copy (passed through ``numpy.asarray``).
        dtype : numpy dtype-like, optional
            Element type of the shared copy; default ``arr``'s own dtype.

        Returns
        -------
        SharedArray
            The caller owns it: use it as a context manager (or call :meth:`release`).

        Raises
        ------
        TypeError
            The element type holds Python objects (e.g. a list of mixed objects).
        Exception
            Whatever the copy raises (including ``KeyboardInterrupt``) is re-raised
            after the new segment has been released.
        """
        arr = np.asarray(arr)
        out = cls(arr.shape, arr.dtype if dtype is None else dtype)
        try:
            out.array[...] = arr
        except BaseException:  # e.g. Ctrl-C during a large copy: never leave the segment
            out.release()
            raise
        return out

    def release(self) -> None:
        """Drop the parent's view, close and unlink the segment (idempotent)."""
        if self._shm is None:
            return
        self._array = None
        shm: shared_memory.SharedMemory = self._shm
        self._shm = None
        try:
            shm.close()
        finally:
            try:
                shm.unlink()
            except FileNotFoundError:
                pass
            with _live_lock:
                _live.discard(shm.name)

    def __enter__(self) -> SharedArray:
        """Return ``self``; the segment is released when the block exits."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Release the segment (on every exit path); exceptions propagate."""
        self.release()

    def __del__(self) -> None:  # last resort; the context manager is the contract
        try:
            self.release()
        except Exception:
            pass


def _map_untracked(name: str) -> mmap.mmap:
    """Map an existing segment without registering it with a resource tracker.

    ``SharedMemory(name)`` registers every attach with the resource tracker (before
    Python 3.13's ``track=False``). A worker forked before the parent's tracker
    existed would then start a tracker of its own (a process start per attach) and
    that tracker would "clean up" - unlink - the parent's live segment when the
    worker exits. Only the owner (the parent) may track and unlink. So the segment is
    opened and mapped directly, on every Python version: ``SharedMemory(track=False)``
    would close its mapping when the object is collected, under the view.
    """
    import _posixshmem  # CPython's own binding, what SharedMemory uses on POSIX

    fd = _posixshmem.shm_open("/" + name, os.O_RDWR, mode=0o600)
    try:
        return mmap.mmap(fd, os.fstat(fd).st_size)
    finally:
        os.close(fd)


@contextmanager
def attached(spec: ArraySpec) -> Iterator[np.ndarray]:
    """Worker side: a view of the shared array for the duration of the block.

    The caller must not keep references to the view (or slices of it) past the
    block: the mapping is closed on exit. The segment is never unlinked here.

    Parameters
    ----------
    spec : ArraySpec
        The handle the parent sent (:attr:`SharedArray.spec`).

    Yields
    ------
    numpy.ndarray
        A writable view of the segment with ``spec``'s shape and dtype; writes are
        seen by the parent.

    Raises
    ------
    FileNotFoundError
        No segment named ``spec.name`` exists (e.g. its owner already released it).
    """
    mm = _map_untracked(spec.name)
    try:
        view = np.ndarray(spec.shape, dtype=np.dtype(spec.dtype), buffer=mm)
        yield view
        del view
    finally:
        mm.close()
