"""How user callables (``map``'s ``func``, pipeline stages) travel to the workers (D15).

By reference where plain pickle can carry them - a module-level function pickles as
its qualified name, a few bytes, and the worker imports it: no slowdown. By value,
with cloudpickle, where it cannot - a lambda, a closure, a function defined in
``__main__`` (a notebook cell, ``python -c``, an interactive session: spawned and
forkserver workers cannot import that module) - as loky and Dask do::

    parent                                       worker
    portable(fn) -> fn                  (by reference: pickle's usual path)
    portable(fn) -> Shipped(payload)    --> Shipped(...)(x): cloudpickle.loads(payload)
                                            once per worker (cached by digest), then fn(x)

A callable neither can carry (one that holds a lock, a socket, an open file) is a
``TypeError`` before anything is dispatched, naming what could not be pickled.
"""
from __future__ import annotations

import hashlib
import pickle
from collections.abc import Callable
from typing import Any

import cloudpickle

__all__ = ["portable", "Shipped"]

#: Functions this worker has loaded from a payload, by the payload's digest.
_loaded: dict[str, Callable[..., Any]] = {}


class Shipped:
    """A callable sent by value: cloudpickle bytes, loaded once per worker process.

    Parameters
    ----------
    fn : callable
        The user's callable (already known to cloudpickle).
    payload : bytes
        ``cloudpickle.dumps(fn)``.
    """

    def __init__(self, fn: Callable[..., Any], payload: bytes) -> None:
        self.payload = payload
        self.digest = hashlib.sha1(payload).hexdigest()
        self.__name__ = getattr(fn, "__name__", type(fn).__name__)
        self.__qualname__ = getattr(fn, "__qualname__", self.__name__)
        for attr in ("ppd_batch_stage",):  # markers the operations read (batch stages)
            if hasattr(fn, attr):
                setattr(self, attr, getattr(fn, attr))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        fn = _loaded.get(self.digest)
        if fn is None:
            fn = _loaded[self.digest] = cloudpickle.loads(self.payload)
        return fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<shipped by value: {self.__qualname__}>"


def _by_reference(fn: Any) -> bool:
    """Plain pickle carries ``fn`` and every worker can import it."""
    if getattr(fn, "__module__", None) == "__main__":
        return False  # spawned/forkserver workers may have no such module to import
    try:
        pickle.dumps(fn, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        return False
    return True


def portable(fn: Callable[..., Any], what: str) -> Callable[..., Any]:
    """``fn`` in a form every worker can run: itself, or a :class:`Shipped` copy.

    Parameters
    ----------
    fn : callable
        The user's callable.
    what : str
        How to name it in an error (``"func"``, ``"stages[1] (parse)"``).

    Returns
    -------
    callable
        ``fn`` when plain pickle carries it by reference, else a :class:`Shipped`.

    Raises
    ------
    TypeError
        Neither pickle nor cloudpickle can serialise ``fn``; the message names what
        could not be pickled.
    """
    if _by_reference(fn):
        return fn
    try:
        return Shipped(fn, cloudpickle.dumps(fn, protocol=pickle.HIGHEST_PROTOCOL))
    except Exception as exc:
        raise TypeError(f"{what} cannot be sent to the worker processes: neither pickle nor "
                        f"cloudpickle can serialise it ({type(exc).__name__}: {exc}); keep "
                        "locks, sockets and open files out of what it refers to") from None
