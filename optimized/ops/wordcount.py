"""Word count: index-partitioned map-reduce with the original's word semantics (R7, D9).

What a word is (D9, exactly the baseline's mapper): the tokens of ``text.split()``
(every character for which ``str.isspace()`` is true separates tokens - unicode spaces
and the ``\\x1c``-``\\x1f`` separators included), each reduced character by character
to ``''.join(c.lower() for c in token if c.isalpha())`` (``lower()`` may yield several
characters: ``'İ'.lower()`` is ``'i'`` plus a combining dot, which is kept), empty
results dropped.

How it is fast:

1. *Count raw tokens first, clean each distinct token once.* ``Counter(piece.split())``
   counts in C; cleaning then costs one call per distinct token, not per occurrence,
   and cleaned counts are folded with ``dict.get``. Pure-ASCII tokens are cleaned by a
   single ``str.translate`` (proved equal to the per-character rule for all 128 ASCII
   characters in the tests).
2. *Small pieces.* A range is split ``_PIECE_CHARS`` at a time (cut at whitespace):
   the token list of a 64 KiB piece stays in cache, which is measurably faster than
   one ``split()`` of the whole range, and bounds the memory a worker needs.
3. *Index-based partitioning, no chunk strings (R7).* The parent cuts the text into
   one range per task at whitespace (so no word is cut) and sends only
   ``(start, end)``. The text itself crosses to the workers once, through one
   shared-memory segment holding its UTF-8 bytes (``surrogatepass``, so any ``str``
   round-trips); each worker decodes only its own byte range, piece by piece. Cut
   points are searched in the bytes for the UTF-8 encoding of any whitespace
   character: ASCII whitespace bytes never occur inside a multi-byte sequence and
   every multi-byte alternative starts with a lead byte, so a cut is always a
   character boundary, and non-ASCII whitespace (U+3000, U+2028, U+0085, ...) is a
   valid cut too - texts without ASCII spaces still split correctly.
4. *Merge.* Partial counts come back in task order and are merged with
   ``Counter.update``, so the result's key order is the words' first occurrence in
   the text (as one sequential pass would give).

Data flow (pool path)::

    parent                                          worker i
    ------                                          --------
    UTF-8 of text -> one buffer (uint8; local: shared memory)
    cuts at whitespace: one range per task  --spec, lo_i, hi_i, piece-->
                                                    for each piece of bytes[lo_i:hi_i]:
                                                        raw.update(piece.decode().split())
    total.update(words_i) <--- ({word: n}, tokens) ---  fold(raw)
    dict(total)

Memory: the parent holds one copy of the text's bytes (the segment; an ASCII text is
encoded into it 1 MiB at a time, a non-ASCII one is encoded once first); a task
carries only the segment's name and two indices, and a worker holds one decoded piece
at a time - so the text is never copied once per worker (the asv suite measures it:
``bench_wordcount.MapReduceWordCountTwoCoresPeakRss.track_worker_peak_rss``).

``chunk_size`` (the original's words per process) is validated and otherwise has no
effect: tasks are sized from the text length and the pool (R2), because 100-word tasks
cannot amortise a round trip.
"""
from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from typing import Any

import numpy as np

from ..buffers import opened
from ..call import Call
from ..chunking import Cost
from ..validation import check_positive_int, check_text

__all__ = ["word_count", "count_words_single_process", "clean_word", "WHITESPACE"]

#: Characters (or bytes) a worker splits at once: small enough for the token list to
#: stay in cache (measured: 64 KiB pieces count ~1.4x faster than one whole split).
_PIECE_CHARS = 64 * 1024
#: A pooled task gets at least this many bytes of text (a task must amortise its round
#: trip); module-level so tests can force many tiny ranges.
_MIN_TASK_BYTES = 128 * 1024
#: Tasks per worker on the pool path (more than one evens out a busy core).
_TASKS_PER_WORKER = 2
#: Cost model (D4), per character, measured on the 2-core reference machine.
_CHAR_CPU_S = 1.2e-8
_CHAR_TRANSFER_S = 3e-10   # encode + copy into shared memory + decode in the worker
#: Characters encoded at a time when an ASCII text is copied into shared memory.
_COPY_CHARS = 1 << 20
_ENCODING = "utf-8"
_ERRORS = "surrogatepass"  # lone surrogates are legal in a str: keep them exact

#: Every character for which ``str.isspace()`` (hence ``str.split()``) is true. All of
#: them lie in the Basic Multilingual Plane (the tests check the whole code space).
WHITESPACE: tuple[str, ...] = tuple(c for c in map(chr, range(0x10000)) if c.isspace())

#: ``re``'s ``\s`` on str patterns is exactly ``str.isspace`` (checked in the tests).
_SPACE_STR = re.compile(r"\s")
#: The UTF-8 encoding of any whitespace character: single ASCII bytes first (the common
#: case), then the multi-byte encodings, each starting with its lead byte.
_SPACE_UTF8 = re.compile(
    b"[" + b"".join(re.escape(c.encode()) for c in WHITESPACE if c.isascii()) + b"]|"
    + b"|".join(re.escape(c.encode()) for c in WHITESPACE if not c.isascii()))

#: ASCII cleaning table: letters lower-cased, every other ASCII character deleted.
_ASCII_CLEAN = {i: (chr(i).lower() if chr(i).isalpha() else None) for i in range(128)}


# -- the word semantics (D9) ------------------------------------------------------------
def clean_word(token: str) -> str:
    """The baseline mapper's cleaning of one token.

    Parameters
    ----------
    token : str
        One token of ``str.split()``.

    Returns
    -------
    str
        ``''.join(c.lower() for c in token if c.isalpha())`` - per character, so
        ``'İ'`` gives ``'i̇'`` (two code points) and a final ``'Σ'`` gives ``'σ'``
        (``str.lower()`` of the whole token would give ``'ς'``).
    """
    if token.isascii():
        return token.translate(_ASCII_CLEAN)
    return "".join(c.lower() for c in token if c.isalpha())


def _fold(raw: Counter[str]) -> dict[str, int]:
    """Clean each distinct raw token once and add its count to its word's."""
    words: dict[str, int] = {}
    get = words.get
    for token, n in raw.items():
        word = clean_word(token)
        if word:
            words[word] = get(word, 0) + n
    return words


def count_words_single_process(text: str) -> dict[str, int]:
    """Single-process reference: ``Counter(text.split())`` then the fold.

    The plain sequential form of the same semantics, as R7 describes it (one ``split``
    of the whole text, then each distinct token cleaned once), in this process;
    benchmarks compare the processor against it.

    Parameters
    ----------
    text : str
        Any string.

    Returns
    -------
    dict of str to int
        ``{word: count}``, keys in order of first occurrence in the text.

    Raises
    ------
    TypeError
        ``text`` is not a str.
    """
    return _fold(Counter(check_text(text).split()))


# -- cutting at whitespace --------------------------------------------------------------
def _cuts(buf: Any, lo: int, hi: int, step: int, space: re.Pattern[Any]) -> list[tuple[int, int]]:
    """Cut ``buf[lo:hi]`` into ranges of at least ``step`` (the last may be shorter).

    Every cut is the start of a whitespace match of ``space`` at or after ``step``
    positions into the current range, so no token spans two ranges. Ranges are
    contiguous, non-empty and cover ``[lo, hi)``; with no whitespace left the rest is
    one range.
    """
    bounds: list[tuple[int, int]] = []
    start = lo
    while hi - start > step:
        m = space.search(buf, start + step, hi)
        if m is None:  # no separator in the rest: later searches cannot find one either
            break
        cut = m.start()
        bounds.append((start, cut))
        start = cut
    bounds.append((start, hi))
    return bounds


# -- counting kernels -------------------------------------------------------------------
def _count_str(text: str, piece: int) -> Counter[str]:
    """Raw token counts of ``text``, split ``piece`` characters at a time."""
    raw: Counter[str] = Counter()
    for a, b in _cuts(text, 0, len(text), piece, _SPACE_STR):
        raw.update(text[a:b].split())
    return raw


def _count_utf8(buf: memoryview, lo: int, hi: int, piece: int) -> Counter[str]:
    """Raw token counts of the UTF-8 bytes ``buf[lo:hi]``, decoded piece by piece."""
    raw: Counter[str] = Counter()
    for a, b in _cuts(buf, lo, hi, piece, _SPACE_UTF8):
        raw.update(str(buf[a:b], _ENCODING, _ERRORS).split())
    return raw


def _count_shared_range(ref: Any, lo: int, hi: int,
                        piece: int) -> tuple[dict[str, int], int]:
    """Worker task: word counts of bytes ``[lo, hi)`` of the shared text.

    Returns the cleaned counts and the number of raw tokens (for the metrics).
    """
    with opened(ref) as arr:
        buf = arr.data  # a memoryview of the mapping: no copy
        try:
            raw = _count_utf8(buf, lo, hi, piece)
        finally:
            buf.release()  # nothing may point into the segment once it is closed
        del arr
    return _fold(raw), sum(raw.values())


# -- the operation ----------------------------------------------------------------------
def _task_count(nbytes: int, num_workers: int) -> int:
    """Tasks for ``nbytes`` of text: a few per worker, each at least ``_MIN_TASK_BYTES``."""
    return max(1, min(num_workers * _TASKS_PER_WORKER, nbytes // max(1, _MIN_TASK_BYTES)))


def _merge(parts: Iterable[tuple[dict[str, int], int]]) -> tuple[dict[str, int], int]:
    total: Counter[str] = Counter()
    tokens = 0
    for words, n in parts:
        total.update(words)
        tokens += n
    return dict(total), tokens


def _fill_utf8(dst: memoryview, text: str, encoded: bytes | None) -> None:
    """Write the UTF-8 bytes of ``text`` into ``dst``.

    An ASCII text is its own UTF-8: it is encoded ``_COPY_CHARS`` at a time, so the
    only large fresh allocation is the segment itself (a whole-text ``encode`` would
    fault in a second text-sized buffer first: measured 1.6-2.4x slower at 10**7 words).
    """
    if encoded is not None:
        dst[:] = encoded
        return
    for lo in range(0, len(text), _COPY_CHARS):
        part = text[lo:lo + _COPY_CHARS].encode("ascii")
        dst[lo:lo + len(part)] = part


def _count_pooled(call: Call, text: str) -> tuple[dict[str, int], int]:
    encoded = None if text.isascii() else text.encode(_ENCODING, _ERRORS)
    nbytes = len(text) if encoded is None else len(encoded)
    parts = _task_count(nbytes, call.num_workers)
    with call.backend.buffer((nbytes,), np.uint8) as shared:
        buf = shared.array.data
        try:
            _fill_utf8(buf, text, encoded)
            del encoded  # the segment is the one copy the workers read
            ranges = _cuts(buf, 0, nbytes, math.ceil(nbytes / parts), _SPACE_UTF8)
        finally:
            buf.release()  # the segment cannot be closed while a view is exported
        call.deadline.check()  # preparing a huge text may already have used the budget
        # filled: now the tasks may read it (a cluster sends each task its own range)
        tasks = [(ref, lo, hi, _PIECE_CHARS) for ref, lo, hi in shared.pieces(ranges)]
        call.recorder.extra.update(tasks=len(tasks), text_bytes=nbytes)
        results = call.run(_count_shared_range, tasks, [hi - lo for lo, hi in ranges])
    return _merge(results)


def word_count(call: Call, text: Any, chunk_size: Any = 100) -> dict[str, int]:
    """``{word: count}`` of ``text`` with the baseline's semantics (R7, D9).

    Parameters
    ----------
    call : Call
        The operation's call state (path choice, pool, deadline, metrics).
    text : str
        Any string (empty -> ``{}``).
    chunk_size : int, default 100
        The original's words per process: validated (positive int) and kept for
        compatibility; it has no effect - tasks are sized from the text length and
        the pool, one or two ranges per worker.

    Returns
    -------
    dict of str to int
        A plain dict, keys in order of first occurrence in the text.

    Raises
    ------
    TypeError
        ``text`` is not a str, or ``chunk_size`` is not an int (bools rejected).
    ValueError
        ``chunk_size`` < 1.
    ProcessorTimeoutError
        The call's timeout expired on the pool path (busy workers terminated).
    WorkerCrashedError
        A worker died on the pool path (the pool is restarted).
    """
    check_text(text, "text")
    check_positive_int(chunk_size, "chunk_size")
    if not text:
        call.choose(0, Cost())
        return {}
    path = call.choose(len(text), Cost(cpu_s=_CHAR_CPU_S, transfer_s=_CHAR_TRANSFER_S))
    if path == "inline":
        raw = _count_str(text, _PIECE_CHARS)
        words, tokens = _fold(raw), sum(raw.values())
    else:
        words, tokens = _count_pooled(call, text)
    call.recorder.items = tokens  # metrics count words, not characters
    return words
