"""An operation's arguments at a size, built by the harness from the original's generators.

Tests, benchmarks, the probe and the grader all call an operation on the same inputs:
the ``builder`` of its instance (``instances/workloads.json``) says what to generate.
"""
from __future__ import annotations

from typing import Any

from .workloads import BUILDERS, InstanceError, Operation

__all__ = ["build_args"]


def build_args(op: Operation, size: int, generators: Any) -> tuple[Any, ...]:
    """Positional arguments for calling ``op`` at ``size``.

    Parameters
    ----------
    op : Operation
        The operation (its ``builder`` says what to generate).
    size : int
        Items, batches, matrix dimension, limit or words, per the builder.
    generators : module
        ``optimized`` or ``baseline``: provides ``generate_test_data``,
        ``generate_test_matrix`` and ``generate_test_text``.

    Returns
    -------
    tuple
        The arguments.

    Raises
    ------
    InstanceError
        Unknown builder.
    """
    if op.builder == "test_data":
        return (generators.generate_test_data(size),)
    if op.builder == "test_batches":
        data = generators.generate_test_data(size * op.batch_len)
        return ([data[i:i + op.batch_len] for i in range(0, len(data), op.batch_len)],)
    if op.builder == "test_matrix":
        m = generators.generate_test_matrix(size, size)
        return (m, [row[:] for row in m])
    if op.builder == "limit":
        return (size,)
    if op.builder == "test_text":
        return (generators.generate_test_text(size),)
    raise InstanceError(f"unknown builder {op.builder!r}; known: {', '.join(BUILDERS)}")
