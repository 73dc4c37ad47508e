"""The work both peer implementations send to their workers (module level: picklable)."""
from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any


def item(x: Any, latency_s: float = 0.0) -> float:
    """The original's per-item kernel: ``x*x + sin(x)*cos(x)`` after its latency."""
    if latency_s:
        time.sleep(latency_s)
    return x * x + math.sin(x) * math.cos(x)


def items(chunk: Sequence[Any], latency_s: float = 0.0) -> list[float]:
    """:func:`item` over a chunk."""
    return [item(x, latency_s) for x in chunk]


def words(chunk: str) -> Counter[str]:
    """The original mapper's rule: whitespace tokens, their letters lower-cased."""
    return Counter(w for w in ("".join(c for c in t if c.isalpha()).lower()
                               for t in chunk.split()) if w)


def primes_in(lo: int, hi: int) -> list[int]:
    """Primes in ``[lo, hi)``: a sieve of that range by the primes up to sqrt(hi)."""
    lo = max(lo, 2)
    if hi <= lo:
        return []
    root = math.isqrt(hi - 1)
    small = bytearray([1]) * (root + 1)
    small[:2] = b"\x00\x00"
    for p in range(2, math.isqrt(root) + 1):
        if small[p]:
            small[p * p::p] = bytes(len(range(p * p, root + 1, p)))
    seg = bytearray([1]) * (hi - lo)
    for p in (i for i in range(2, root + 1) if small[i]):
        start = max(p * p, -(-lo // p) * p)
        seg[start - lo::p] = bytes(len(range(start, hi, p)))
    return [lo + i for i, flag in enumerate(seg) if flag]


def pipeline(chunk: Sequence[Any]) -> list[Any]:
    """The original pipeline's three stages, fused: ``(x * 2 + 10) ** 2`` as ``y * y``."""
    out = []
    for x in chunk:
        y = x * 2 + 10
        out.append(y * y)
    return out


def chunks(seq: Sequence[Any], parts: int) -> list[Sequence[Any]]:
    """``seq`` cut into at most ``parts`` contiguous, nearly equal slices."""
    n = len(seq)
    size = max(1, -(-n // max(1, parts)))
    return [seq[i:i + size] for i in range(0, n, size)]
