"""Test-data generators, same outputs as the baseline's, built efficiently."""
from __future__ import annotations

from itertools import cycle, islice

__all__ = ["generate_test_data", "generate_test_matrix", "generate_test_text", "WORD_CYCLE"]

#: The 14 words ``generate_test_text`` cycles through.
WORD_CYCLE = ("the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "python",
              "programming", "parallel", "processing", "data", "analysis")


def generate_test_data(size: int) -> list[int]:
    """``[1, 2, ..., size]``.

    Parameters
    ----------
    size : int
        Number of items; ``size <= 0`` gives ``[]``.

    Returns
    -------
    list of int
        The integers 1 to ``size``, ascending.
    """
    return list(range(1, size + 1))


def generate_test_matrix(rows: int, cols: int) -> list[list[int]]:
    """``m[i][j] = (i + 1) * (j + 1)``.

    Parameters
    ----------
    rows, cols : int
        Matrix dimensions (number of rows, and of items per row).

    Returns
    -------
    list of list of int
        ``rows`` lists of ``cols`` ints each (``[]`` when ``rows <= 0``).
    """
    return [[(i + 1) * (j + 1) for j in range(cols)] for i in range(rows)]


def generate_test_text(word_count: int) -> str:
    """``word_count`` words cycling through :data:`WORD_CYCLE`, each followed by one space.

    Built from whole repetitions of the 14-word cycle (one string multiplication), so
    10**7 words cost one 70 MB string, not 10**7 temporary word strings.

    Parameters
    ----------
    word_count : int
        Number of words; ``word_count <= 0`` gives ``""``.

    Returns
    -------
    str
        The words, each followed by a single space (so the text ends with a space).
    """
    n = max(0, word_count)
    full, rest = divmod(n, len(WORD_CYCLE))
    one_cycle = "".join(w + " " for w in WORD_CYCLE)
    return one_cycle * full + "".join(w + " " for w in islice(cycle(WORD_CYCLE), rest))
