"""Test-data generators of the original, in the original's slow style.

These helpers deliberately keep the anti-patterns of the code they re-create
(element-by-element ``append`` loops and string building by repeated ``+``).
They are part of the "before" picture and must not be optimised.
"""

from __future__ import annotations

#: The vocabulary :func:`generate_test_text` cycles through, in order.
TEXT_WORDS: tuple[str, ...] = (
    "the",
    "quick",
    "brown",
    "fox",
    "jumps",
    "over",
    "lazy",
    "dog",
    "python",
    "programming",
    "parallel",
    "processing",
    "data",
    "analysis",
)


def generate_test_data(size: int) -> list[int]:
    """Return the integers ``1..size`` built with an append loop.

    Parameters
    ----------
    size : int
        Number of items. Zero or a negative value gives an empty list.

    Returns
    -------
    list of int
        ``[1, 2, ..., size]``.
    """
    data = []
    for i in range(size):
        data.append(i + 1)
    return data


def generate_test_matrix(rows: int, cols: int) -> list[list[int]]:
    """Return a ``rows x cols`` list-of-lists with ``m[i][j] = (i + 1) * (j + 1)``.

    Parameters
    ----------
    rows, cols : int
        Matrix shape.

    Returns
    -------
    list of list of int
        The matrix, built element by element.
    """
    matrix = []
    for i in range(rows):
        row = []
        for j in range(cols):
            row.append((i + 1) * (j + 1))
        matrix.append(row)
    return matrix


def generate_test_text(word_count: int) -> str:
    """Return ``word_count`` words cycling through :data:`TEXT_WORDS`.

    Every word is followed by exactly one space (so a non-empty result ends
    with a space). The string is built by repeated concatenation, which is
    quadratic in the worst case, exactly like the original.

    Parameters
    ----------
    word_count : int
        Number of words. Zero or a negative value gives ``""``.

    Returns
    -------
    str
        The text.
    """
    text = ""
    for i in range(word_count):
        text = text + TEXT_WORDS[i % len(TEXT_WORDS)] + " "
    return text
