"""Matrix multiplication: NumPy ``@`` in-process, or row blocks on the pool (R4, D8).

Input
    ``A`` and ``B`` are lists (or tuples) of equal-length rows of real numbers, or 2-D
    NumPy arrays. Both are fully validated - shapes, raggedness, entry types - before
    anything is computed or dispatched (D2). One-dimensional input is rejected: the
    original takes 2-D lists, and NumPy's vector semantics for ``@`` (a 1-D result)
    have no list-of-lists equivalent; pass a ``1 x n`` or ``n x 1`` matrix instead.

Output (D7)
    Lists in -> list of lists of Python numbers out. An ndarray for either operand ->
    ndarray out (as NumPy's own ``list @ ndarray``).

Kernels: exactness first (D8)
    ===================  ==============================================================
    ``float64``          any float entry (mixed int/float lists count as float): BLAS
    ``int-via-float64``  all ints and ``max|A| * max|B| * inner <= 2**53``: BLAS is
                         exact, because every product and every partial sum - in
                         whatever order BLAS adds them - is an integer of at most that
                         magnitude, which float64 represents exactly; converted back
                         to ints afterwards
    ``int64``            all ints, bound < 2**63: float64 BLAS on ``k``-bit digits of
                         ``A`` (``A = sum_j D_j * 2**(k*j)``, ``k`` chosen so that
                         ``inner * 2**k * max|B| <= 2**53``: each ``D_j @ B`` is
                         exact), recombined in int64, whose wrap-around arithmetic
                         cannot change a sum that fits int64. NumPy's own integer
                         matmul (no BLAS, ~12x slower at 2000x2000) only where
                         ``inner * max|B| > 2**52`` leaves no room for a digit
    ``object``           larger ints, or other real types (``Fraction``): Python
                         arithmetic on object arrays, exact like the original
    ===================  ==============================================================

Paths (D4)
    ``inline``: one NumPy call in this process - on one BLAS thread for products of up
    to 300**3 multiply-adds (R4's "single-threaded"; threadpoolctl, when installed),
    with NumPy's own BLAS threads above that. ``pool``: when the largest dimension
    exceeds ``matmul_parallel_threshold`` (R4: 1000) *and* the workers have more cores
    than this process's BLAS threads use (see below), or when the processor is forced
    to ``execution="pool"``, the result is cut into one contiguous row block per
    worker (at most one per core). ``A`` and ``B`` are copied once into shared memory,
    each worker computes ``C[lo:hi] = A[lo:hi] @ B`` straight into a shared output
    array, and tasks carry only segment specs and row bounds. Workers run BLAS with
    ``cores // workers`` threads each (set by the local backend), so busy processes x threads
    never oversubscribe the machine. The ``object`` kernel cannot live in shared memory; on the pool its row
    blocks (and ``B``) travel pickled, once per task.

When to use which: on one machine with a multi-threaded BLAS, the pool
cannot beat NumPy's own threads - both keep every core busy, and the pool adds copies of
A and B into fresh shared memory (64 MB at 2000x2000: ~80 ms here, page allocation
dominates), the result's copy out, and one BLAS thread per worker. Measured on the
2-core reference machine, 2 workers, best of 3: float64 2000x2000 inline 0.216 s, pool
0.39 s (``A @ B`` 0.228 s; pool 1.75x at 2000, 1.5x at 4000 - the targets' 1.2x / 1.1x not
met, and a parent-computes-a-block design would still copy B and half of A: ~1.4x at
best); exact int-via-float64 0.27 vs 0.40 s; int64 digits 0.56 vs 0.72 s. So ``auto``
puts a product above the threshold on the pool only where that can win: when the
backend's cores exceed the BLAS threads this process uses (a single-threaded BLAS, a
BLAS limited with threadpoolctl, or a cluster backend, D12); otherwise it stays in
process on NumPy's threads. ``execution="pool"`` still forces row blocks (R4's layout).
"""
from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any, Literal

import numpy as np

from ..buffers import opened, write_block
from ..call import Call
from ..chunking import Path, split_bounds

__all__ = ["multiply", "Kernel", "choose_kernel", "as_matrix", "validate_pair", "int_matmul"]

Kernel = Literal["float64", "int-via-float64", "int64", "object"]

#: Every integer of magnitude <= 2**53 is exactly a float64.
_EXACT_FLOAT_INT = 2 ** 53
#: int64 holds magnitudes < 2**63.
_INT64_BOUND = 2 ** 63
#: In-process products of at most this many multiply-adds run on one BLAS thread (R4:
#: "single-threaded"): below it a second thread saves little, and a busy machine can
#: make the threads' hand-off cost many times the product (measured: 200x200 took
#: 0.4 ms on one thread, 14 ms on two under load).
_SINGLE_THREAD_MADDS = 300 ** 3
_blas: Any = None  # threadpoolctl controller of the loaded BLAS, made on first use


# -- validation: a matrix is a 2-D float64, int64 or object array ------------------------
def _describe(x: Any) -> str:
    text = repr(x)
    return f"{type(x).__name__} {text if len(text) <= 40 else text[:37] + '...'}"


def _is_number(x: Any) -> bool:
    # bools are the ints 0 and 1, as in Python arithmetic (and in the original)
    return isinstance(x, (numbers.Real, np.bool_)) and not isinstance(x, (str, bytes))


def _from_rows(M: Sequence[Any], name: str) -> np.ndarray:
    """Slow path: find the first problem in ``M`` and raise, or build an object array."""
    if len(M) == 0:
        raise ValueError(f"{name} has no rows: expected a non-empty matrix (a list of rows)")
    width = -1
    for i, row in enumerate(M):
        if isinstance(row, (str, bytes)) or not isinstance(row, (Sequence, np.ndarray)):
            raise TypeError(f"{name}[{i}] must be a row (a list of numbers), got {_describe(row)}")
        if width < 0:
            width = len(row)
        elif len(row) != width:
            raise ValueError(f"{name} is ragged: row {i} has {len(row)} entries but row 0 has "
                             f"{width}; every row must have the same length")
        for j, x in enumerate(row):
            if not _is_number(x):
                raise TypeError(f"{name}[{i}][{j}] must be a real number (int or float), "
                                f"got {_describe(x)}")
    if width == 0:
        raise ValueError(f"{name} is {len(M)}x0: its rows are empty; expected at least one column")
    out = np.empty((len(M), width), dtype=object)
    for i, row in enumerate(M):
        out[i, :] = list(row)
    return _classify_objects(out, name)


def _classify_objects(arr: np.ndarray, name: str) -> np.ndarray:
    """An object array of real numbers -> float64, int64, or object (exact Python types)."""
    flat = arr.ravel()
    for k, x in enumerate(flat):
        if not _is_number(x):
            i, j = divmod(k, arr.shape[1])
            raise TypeError(f"{name}[{i}][{j}] must be a real number (int or float), "
                            f"got {_describe(x)}")
    if all(isinstance(x, (numbers.Integral, np.bool_)) for x in flat):
        ints = np.array([int(x) for x in flat], dtype=object).reshape(arr.shape)
        return _narrow_ints(ints)
    if all(isinstance(x, (numbers.Integral, np.bool_, float, np.floating)) for x in flat):
        try:
            return arr.astype(np.float64)
        except OverflowError:
            raise OverflowError(f"{name} mixes floats with an int too large for a float "
                                "(the original's int * float would overflow too)") from None
    return arr  # Fractions and other exact real types: Python arithmetic


def _narrow_ints(ints: np.ndarray) -> np.ndarray:
    """Python-int object array -> int64 when every entry fits, else unchanged."""
    if int(ints.max()) < _INT64_BOUND and int(ints.min()) >= -_INT64_BOUND:
        return ints.astype(np.int64)
    return ints


def _normalise(arr: np.ndarray, name: str) -> np.ndarray:
    """A 2-D numeric array -> float64, int64 or (for uint64 beyond int64) object."""
    kind = arr.dtype.kind
    if kind == "f":
        return arr.astype(np.float64, copy=False)
    if kind == "b" or kind == "i":
        return arr.astype(np.int64, copy=False)
    if kind == "u":
        if arr.size and int(arr.max()) >= _INT64_BOUND:
            return arr.astype(object)  # exact Python ints
        return arr.astype(np.int64)
    if kind == "O":
        return _classify_objects(arr, name)
    raise TypeError(f"{name} must hold real numbers (ints or floats), got an array of dtype "
                    f"{arr.dtype}")


def _from_ndarray(M: np.ndarray, name: str) -> np.ndarray:
    if M.ndim != 2:
        hint = " (use a 1xN or Nx1 matrix for a vector)" if M.ndim == 1 else ""
        raise ValueError(f"{name} must be a 2-D matrix, got an array of shape {M.shape}{hint}")
    if M.shape[0] == 0:
        raise ValueError(f"{name} has no rows (shape {M.shape}): expected a non-empty matrix")
    if M.shape[1] == 0:
        raise ValueError(f"{name} is {M.shape[0]}x0: its rows are empty; expected at least one "
                         "column")
    return _normalise(M, name)


def _maybe_promoted_ints(arr: np.ndarray) -> bool:
    """True if NumPy may have turned Python ints into floats (so the types must be read).

    ``np.asarray`` gives float64 for ints that fit neither int64 nor uint64 together,
    e.g. ``[[-1, 2**63]]``: at least one magnitude is then >= 2**63. Real float
    matrices that large are rare; they merely take the slow, exact path.
    """
    return arr.dtype.kind == "f" and bool((np.abs(arr) >= _INT64_BOUND).any())


def as_matrix(M: Any, name: str) -> np.ndarray:
    """Validate ``M`` and return it as a 2-D float64, int64 or object array.

    Parameters
    ----------
    M : list of lists of real numbers, or 2-D ndarray
        The matrix.
    name : str
        Argument name for messages (``"A"``, ``"B"``).

    Returns
    -------
    numpy.ndarray
        float64 if any entry is a float; int64 if all are ints that fit; object
        otherwise (ints beyond int64, ``Fraction``) - exact Python arithmetic.

    Raises
    ------
    TypeError
        ``M`` is not a matrix, a row is not a sequence, or an entry is not a real number.
    ValueError
        ``M`` has no rows, empty rows, ragged rows, or is not 2-D.
    """
    if isinstance(M, np.ndarray):
        return _from_ndarray(M, name)
    if isinstance(M, (str, bytes)) or not isinstance(M, Sequence):
        raise TypeError(f"{name} must be a matrix: a list of rows (lists of numbers) or a 2-D "
                        f"ndarray, got {type(M).__name__}")
    try:  # fast path: one C-level conversion for the common, well-formed case
        arr = np.asarray(M)
    except (ValueError, TypeError, OverflowError):  # ragged rows and the like
        arr = None
    if arr is not None and arr.ndim == 2 and arr.shape[1] > 0 and arr.dtype.kind in "biuf" \
            and not _maybe_promoted_ints(arr):
        return _normalise(arr, name)
    return _from_rows(M, name)  # reports the offending row / entry, or builds objects


def _outline(M: Any) -> str:
    """A matrix's shape for messages, as far as it has one (``3x2``, ``3x1-2 (ragged)``)."""
    if isinstance(M, np.ndarray):
        return f"array of shape {M.shape}"
    try:
        widths = sorted({len(row) for row in M})
    except TypeError:  # not a sequence of sized rows
        return _describe(M)
    if not widths:
        return "0 rows"
    cols = str(widths[0]) if len(widths) == 1 else f"{widths[0]}-{widths[-1]} (ragged)"
    return f"{len(M)}x{cols}"


def validate_pair(A: Any, B: Any) -> tuple[np.ndarray, np.ndarray]:
    """Both operands as matrices (:func:`as_matrix`), their shapes compatible for ``A @ B``.

    Raises
    ------
    TypeError
        As :func:`as_matrix`.
    ValueError
        As :func:`as_matrix`, or incompatible shapes; the message ends with both
        operands' shapes (D2).
    """
    try:
        a = as_matrix(A, "A")
        b = as_matrix(B, "B")
    except ValueError as exc:
        raise ValueError(f"{exc} (A: {_outline(A)}; B: {_outline(B)})") from None
    _check_shapes(a, b)
    return a, b


def _check_shapes(a: np.ndarray, b: np.ndarray) -> None:
    (n, m), (m2, p) = a.shape, b.shape
    if m != m2:
        raise ValueError(f"A is {n}x{m} but B is {m2}x{p}: A's columns ({m}) must equal "
                         f"B's rows ({m2})")


# -- kernel choice (D8) ------------------------------------------------------------------
def _max_abs(x: np.ndarray) -> int:
    return max(int(x.max()), -int(x.min()))  # Python ints: abs(int64 min) cannot overflow


def choose_kernel(a: np.ndarray, b: np.ndarray) -> tuple[Kernel, np.ndarray, np.ndarray]:
    """Pick the fastest exact kernel for validated ``a @ b``; return it with the operands.

    Returns
    -------
    kernel : Kernel
    a, b : numpy.ndarray
        Both converted to the kernel's dtype (float64, int64 or object).
    """
    if a.dtype == np.float64 or b.dtype == np.float64:
        return "float64", a.astype(np.float64, copy=False), b.astype(np.float64, copy=False)
    if a.dtype == np.int64 and b.dtype == np.int64:
        bound = _max_abs(a) * _max_abs(b) * a.shape[1]
        if bound <= _EXACT_FLOAT_INT:
            return "int-via-float64", a, b  # converted to float64 where it is multiplied
        if bound < _INT64_BOUND:
            return "int64", a, b
    return "object", a.astype(object), b.astype(object)  # int64 -> Python ints, exactly


def _compute_dtype(kernel: Kernel) -> np.dtype:
    return np.dtype({"float64": np.float64, "int-via-float64": np.float64,
                     "int64": np.int64, "object": object}[kernel])


def _finish(c: np.ndarray, kernel: Kernel, as_list: bool) -> list[list[Any]] | np.ndarray:
    """Computed product -> the caller's format (never a view of shared memory)."""
    if kernel == "int-via-float64":
        c = c.astype(np.int64)  # exact: every entry is an integer <= 2**53
        return c.tolist() if as_list else c
    if as_list:
        return c.tolist()  # Python ints / floats / exact objects
    return c.copy() if c.base is not None else c  # a view of a shared segment: copy out


# -- paths -----------------------------------------------------------------------------
def _choose_path(call: Call, n: int, m: int, p: int) -> Path:
    """R4's rule, where it pays (:func:`~optimized.chunking.choose_matmul_path`)."""
    def threads() -> int:
        call.recorder.extra["blas_threads"] = found = blas_threads()
        return found

    return call.choose_matmul(n, m, p, threads)


def _controller() -> Any:
    """threadpoolctl's controller of the loaded BLAS, or False without threadpoolctl."""
    global _blas
    if _blas is None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:  # optional dependency: keep NumPy's default threads
            _blas = False
        else:
            _blas = ThreadpoolController().select(user_api="blas")
    return _blas


def blas_threads() -> int:
    """Threads this process's BLAS uses now (1 when unknown: the pool is then preferred).

    Returns
    -------
    int
        The largest ``num_threads`` of the loaded BLAS libraries (threadpoolctl).
    """
    blas = _controller()
    info = blas.info() if blas else []
    return max([int(lib.get("num_threads", 1)) for lib in info] or [1])


def _one_blas_thread() -> AbstractContextManager[Any]:
    """Limit this process's BLAS to one thread for the block (no-op without threadpoolctl)."""
    blas = _controller()
    return blas.limit(limits=1) if blas else nullcontext()


def int_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Exact int64 ``a @ b`` through float64 BLAS, for products whose entries fit int64.

    Parameters
    ----------
    a, b : numpy.ndarray
        2-D int64 operands with ``max|a| * max|b| * inner < 2**63`` (the ``int64``
        kernel's bound; checked by :func:`choose_kernel`).

    Returns
    -------
    numpy.ndarray
        The exact int64 product. ``a`` is cut into ``k``-bit digits (see the module
        docstring); without room for a digit it falls back to NumPy's integer matmul.
    """
    inner = a.shape[1]
    room = _EXACT_FLOAT_INT // max(1, inner * _max_abs(b))  # max|digit| for an exact product
    k = room.bit_length() - 1
    if k < 1:
        return np.matmul(a, b)
    bf = b.astype(np.float64)
    out = np.zeros((a.shape[0], b.shape[1]), dtype=np.int64)
    rest, shift = a, 0
    while True:
        last = _max_abs(rest) <= room  # the remaining (signed) digits fit at once
        digit = rest if last else rest & ((1 << k) - 1)  # low k bits, 0 <= digit < 2**k
        part = np.matmul(digit.astype(np.float64), bf).astype(np.int64)  # exact
        out += part << shift  # int64 wraps, but the final sum fits: exact
        if last:
            return out
        rest, shift = rest >> k, shift + k  # arithmetic shift: rest == hi * 2**k + digit


def _multiply_inline(a: np.ndarray, b: np.ndarray, kernel: Kernel) -> np.ndarray:
    if kernel == "int64":
        return int_matmul(a, b)
    dt = _compute_dtype(kernel)
    a, b = a.astype(dt, copy=False), b.astype(dt, copy=False)
    if dt == np.float64 and a.shape[0] * a.shape[1] * b.shape[1] <= _SINGLE_THREAD_MADDS:
        with _one_blas_thread():
            return np.matmul(a, b)
    return np.matmul(a, b)  # larger: NumPy's own BLAS threads help


def _array_block_task(a_ref: Any, b_ref: Any, c_ref: Any, lo: int, hi: int) -> np.ndarray | None:
    """Worker: ``C[lo:hi] = A[lo:hi] @ B``, written in place (local) or returned (cluster)."""
    with opened(a_ref) as a, opened(b_ref) as b:
        if a.dtype == np.int64:  # the int64 kernel: exact digits through BLAS
            return write_block(c_ref, lo, hi, int_matmul(a[lo:hi], b))
        if c_ref is None:
            return np.matmul(a[lo:hi], b)
        with opened(c_ref) as c:  # straight into the shared result: no copy
            np.matmul(a[lo:hi], b, out=c[lo:hi])
    return None


def _object_block_task(a_block: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Worker: exact Python arithmetic on one pickled row block."""
    return np.matmul(a_block, b)


def _multiply_pooled(call: Call, a: np.ndarray, b: np.ndarray, kernel: Kernel,
                     finish: Callable[[np.ndarray], Any]) -> Any:
    n, p = a.shape[0], b.shape[1]
    # One contiguous row block per worker, but no more blocks than cores: each worker's
    # BLAS has cores // workers threads, so busy processes x threads stay <= cores.
    bounds = split_bounds(n, max(1, min(call.num_workers, call.backend.cores)))
    sizes = [(hi - lo) * p for lo, hi in bounds]
    call.recorder.extra["row_blocks"] = len(bounds)
    if kernel == "object":
        parts = call.run(_object_block_task, [(a[lo:hi], b) for lo, hi in bounds], sizes)
        return finish(np.concatenate(parts, axis=0))
    dt = _compute_dtype(kernel)
    backend = call.backend
    with backend.share(a, dt) as sa, backend.share(b, dt, broadcast=True) as sb, \
            backend.buffer((n, p), dt) as sc:
        b_ref, c_ref = sb.reader(), sc.writer()
        blocks = call.run(_array_block_task, [(a_ref, b_ref, c_ref, lo, hi)
                                              for a_ref, lo, hi in sa.pieces(bounds)], sizes)
        sc.place(bounds, blocks)
        return finish(sc.array)  # converted / copied out before the buffer goes away


def multiply(call: Call, A: Any, B: Any) -> list[list[Any]] | np.ndarray:
    """``A @ B`` with the original's result format, exact for integers (R4, D7, D8).

    Parameters
    ----------
    call : Call
        The processor's per-call state (mode, threshold, deadline, metrics).
    A : list of lists of real numbers, or 2-D ndarray
        ``n x m``.
    B : list of lists of real numbers, or 2-D ndarray
        ``m x p``.

    Returns
    -------
    list of lists or numpy.ndarray
        ``n x p``. Lists when both inputs are lists (Python ints for integer inputs,
        floats when any entry is a float); an ndarray when either input is one
        (int64, float64, or object for ints beyond int64).

    Raises
    ------
    TypeError
        A matrix is not a list of rows / 2-D array, or an entry is not a real number.
    ValueError
        No rows, empty or ragged rows, not 2-D, or ``A``'s columns != ``B``'s rows
        (the message names both shapes).
    """
    as_list = not isinstance(A, np.ndarray) and not isinstance(B, np.ndarray)
    a, b = validate_pair(A, B)
    kernel, a, b = choose_kernel(a, b)
    call.recorder.extra["kernel"] = kernel
    path = _choose_path(call, a.shape[0], a.shape[1], b.shape[1])

    def finish(c: np.ndarray) -> Any:
        return _finish(c, kernel, as_list)

    if path == "inline":
        return finish(_multiply_inline(a, b, kernel))
    return _multiply_pooled(call, a, b, kernel, finish)
