"""The grader's child: imports one candidate and reports on it, in a process of its own.

Started by :mod:`evaluation.grade` inside a watched process group (never imported by the
evaluation's own process with a candidate in it)::

    python -m evaluation.running.grade_child CANDIDATE_JSON compat NAMES_JSON
        the candidate class's methods (present? signature?), whether it is a context
        manager, and which of the original's module-level helpers its module has
    python -m evaluation.running.grade_child CANDIDATE_JSON call OPERATION SIZE
        builds the operation's arguments with the harness's own generators (before the
        candidate is imported), constructs ``Class(4, 0.0)`` (4 workers, the compute
        workload), calls the method once, closes the processor (``close()`` and/or
        ``cleanup()``, whichever it has), and reports the result's JSON encoding, its
        shape (``list[float]``...) and the call's seconds - or the exception it raised

The report is the last stdout line that starts with :data:`MARK`. The parent, not this
process, compares results with the oracle: a candidate cannot grade itself.
"""
from __future__ import annotations

import importlib
import importlib.util
import inspect
import json
import sys
import time
import traceback
from pathlib import Path
from typing import Any

__all__ = ["MARK", "shape_of", "encode", "decode", "signature_of", "load_class"]

#: Prefix of the report line (the candidate may print anything else).
MARK = "@@ppd-grade@@ "
#: Module-level helpers of the original (reported, never required: a candidate may be
#: only its class).
HELPERS = ("generate_test_data", "generate_test_matrix", "generate_test_text")


def shape_of(value: Any) -> str:
    """The format of a result: ``list[float]``, ``dict[str, int]``, ``ndarray[int64]``..."""
    if isinstance(value, bool):
        return "bool"
    if type(value).__module__ == "numpy":
        dtype = getattr(value, "dtype", None)
        return f"ndarray[{dtype}]" if getattr(value, "ndim", 0) else f"numpy.{dtype}"
    if isinstance(value, (list, tuple)):
        inner = sorted({shape_of(v) for v in value})
        return f"{type(value).__name__}[{'|'.join(inner)}]"
    if isinstance(value, dict):
        keys = sorted({shape_of(k) for k in value})
        vals = sorted({shape_of(v) for v in value.values()})
        return f"dict[{'|'.join(keys)}, {'|'.join(vals)}]"
    return type(value).__name__


def encode(value: Any) -> Any:
    """A JSON-able form of a result that :func:`decode` turns back (dict keys kept typed)."""
    if type(value).__module__ == "numpy" and hasattr(value, "tolist"):
        return encode(value.tolist())
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {"__pairs__": [[encode(k), encode(v)] for k, v in value.items()]}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return {"__repr__": repr(value)[:200]}


def decode(value: Any) -> Any:
    """The inverse of :func:`encode` (lists stay lists)."""
    if isinstance(value, list):
        return [decode(v) for v in value]
    if isinstance(value, dict):
        if "__pairs__" in value:
            return {_hashable(decode(k)): decode(v) for k, v in value["__pairs__"]}
        return value.get("__repr__", value)
    return value


def _hashable(key: Any) -> Any:
    return tuple(key) if isinstance(key, list) else key


def signature_of(cls: type, name: str) -> list[list[Any]] | None:
    """``[[name, kind, has_default], ...]`` of method ``name`` without ``self``; None if absent."""
    attr = inspect.getattr_static(cls, name, None)
    if attr is None or not callable(getattr(cls, name, None)):
        return None
    try:
        params = list(inspect.signature(getattr(cls, name)).parameters.values())
    except (TypeError, ValueError):
        return [["*args", "VAR_POSITIONAL", False], ["**kwargs", "VAR_KEYWORD", False]]
    if not isinstance(attr, staticmethod) and params:
        params = params[1:]  # self (or cls)
    return [[p.name, p.kind.name, p.default is not inspect.Parameter.empty] for p in params]


def load_class(candidate: dict[str, Any]) -> type:
    """Import the candidate's module (by name or by path) and return its class."""
    kind, target, cls = candidate["kind"], candidate["target"], candidate["cls"]
    if kind == "module":
        module = importlib.import_module(target)
    elif kind == "file":  # its folder on sys.path, as for a script: its siblings import
        sys.path.insert(0, str(Path(target).parent))
        module = _load_path(f"ppd_candidate_{abs(hash(target))}", Path(target), None)
    else:  # a package folder: importable by its own name (absolute self-imports work)
        path = Path(target)
        if path.name in sys.modules:  # a harness module's name: load it under another
            module = _load_path(f"ppd_candidate_{abs(hash(target))}", path / "__init__.py",
                                [str(path)])
        else:
            sys.path.insert(0, str(path.parent))
            module = importlib.import_module(path.name)
    found = getattr(module, cls, None)
    if not isinstance(found, type):
        raise LookupError(f"{module.__name__} has no class {cls!r}")
    return found


def _load_path(name: str, file: Path, search: list[str] | None) -> Any:
    spec = importlib.util.spec_from_file_location(name, file, submodule_search_locations=search)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {file}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _compat(candidate: dict[str, Any], names: list[str]) -> dict[str, Any]:
    cls = load_class(candidate)
    module = sys.modules.get(cls.__module__)
    return {"methods": {n: signature_of(cls, n) for n in names},
            "context_manager": hasattr(cls, "__enter__") and hasattr(cls, "__exit__"),
            "helpers": {h: callable(getattr(module, h, None)) for h in HELPERS}}


def _call(candidate: dict[str, Any], name: str, size: int) -> dict[str, Any]:
    """One call of operation ``name`` at ``size``: its value, format and seconds."""
    import optimized  # the harness's generators: the candidate never builds its input
    from evaluation.inputs import build_args
    from evaluation.workloads import load_workloads

    op = load_workloads().operations[name]
    args = build_args(op, size, optimized)
    cls = load_class(candidate)
    proc = cls(4, 0.0)
    try:
        t0 = time.perf_counter()
        result = getattr(proc, name)(*args, **dict(op.call))
        seconds = time.perf_counter() - t0
    finally:
        for closer in ("close", "cleanup"):
            if callable(getattr(proc, closer, None)):
                getattr(proc, closer)()
    return {"seconds": seconds, "shape": shape_of(result), "value": encode(result)}


def main(argv: list[str]) -> None:
    candidate, mode = json.loads(argv[0]), argv[1]
    try:
        if mode == "compat":
            report: dict[str, Any] = _compat(candidate, json.loads(argv[2]))
        else:
            report = _call(candidate, argv[2], int(argv[3]))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, whatever it is
        report = {"error": f"{type(exc).__name__}: {exc}"[:500],
                  "traceback": "".join(traceback.format_exc())[-2000:]}
    sys.stdout.write("\n" + MARK + json.dumps(report) + "\n")
    sys.stdout.flush()
    # The interpreter then exits normally, so the candidate's own exit handlers run (joblib
    # removes its folders, loky stops its workers). If that exit waits for a process the
    # candidate left running, the grader sees the report and then a hang: a leak.


if __name__ == "__main__":
    main(sys.argv[1:])
