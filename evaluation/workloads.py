"""Load and validate the workload instances in ``instances/workloads.json``.

The instances are the single source of truth for operation sizes, the seed's time
gates and known answers; tests, benchmarks and the evaluation all read them through
:func:`load_workloads`, so no target is written twice.
"""
from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Gate", "Operation", "Workloads", "InstanceError", "load_workloads", "parse_workloads",
           "default_instances_dir", "IMPLEMENTATIONS", "BenchSelector", "BenchmarkTarget",
           "TARGET_COMPARISONS", "BUILDERS", "SCALE_SUITE_SUFFIX"]

#: Implementation names understood by the harness.
IMPLEMENTATIONS = ("baseline", "optimized")
#: Class-name suffix of the asv suite that times an operation at its scaling sizes
#: (``sizes.scale``): ``ParallelFindPrimes`` -> ``ParallelFindPrimesAtScale``. The report
#: joins the two into the operation's one curve (:func:`evaluation.figures.reference.timed_rows`).
SCALE_SUITE_SUFFIX = "AtScale"
#: How an operation's arguments are built (:func:`evaluation.inputs.build_args`).
BUILDERS = ("test_data", "test_batches", "test_matrix", "limit", "test_text")
_FAMILIES = ("map", "matrix", "primes", "text", "pipeline")
_SIZE_KEYS = ("baseline", "optimized", "quick")
_GATE_KINDS = ("max_seconds", "max_ratio_to_sequential_over_workers", "max_ipc_share",
               "min_ratio_to_slowest_stage")
#: How a benchmark target's measured figure is compared with its limit.
TARGET_COMPARISONS = ("<", "<=", ">", ">=")
_MEASURE_KINDS = ("ratio", "track")


class InstanceError(ValueError):
    """A workload instance file is malformed; the message names the path and field."""


@dataclass(frozen=True)
class Gate:
    """One seed time gate (R2-R7) attached to an operation."""

    id: str
    operation: str
    size: int
    workers: int
    workload: str
    kind: str
    limit: float
    text: str


@dataclass(frozen=True)
class Operation:
    """One public processor operation and the sizes it is run at."""

    name: str
    family: str
    builder: str
    call: Mapping[str, Any]
    sizes: Mapping[str, tuple[int, ...]]
    baseline_max: int
    baseline_max_reason: str
    gates: tuple[Gate, ...]
    batch_len: int = 0

    def baseline_runs(self, size: int) -> bool:
        """True when the baseline can run ``size`` in seconds (else benchmarks skip it)."""
        return size <= self.baseline_max


@dataclass(frozen=True)
class BenchSelector:
    """One asv measurement: a benchmark's dotted name and the parameter values of one point.

    ``params`` must name every parameter of the benchmark (one point, not several);
    an unparameterised benchmark has ``params == {}``.
    """

    benchmark: str
    params: Mapping[str, Any]

    def describe(self) -> str:
        """``Suite.time_x(impl=pool, size=100000)``: short, for tables."""
        short = ".".join(self.benchmark.split(".")[-2:])
        args = ", ".join(f"{k}={v}" for k, v in self.params.items())
        return f"{short}({args})" if args else short


@dataclass(frozen=True)
class BenchmarkTarget:
    """A figure a benchmark must reach (not a pytest gate), judged on asv results.

    ``kind == "ratio"``: the median of ``numerator`` over the median of the
    ``denominator`` (the smallest of several - "the better of" - when it lists more
    than one), all from the same asv run. ``kind == "track"``: the value of the
    ``track_`` benchmark ``numerator`` (``denominator`` is empty). The figure passes
    when ``figure <comparison> limit``. ``full_run_only`` (non-empty) says why quick
    mode's figure is not at the target's setting. ``known_limit`` (non-empty) says,
    for a target this machine is known not to reach, why (measured; docs/performance.md has the
    figures): the report gives it as the reason of a ``NOT met``.
    """

    id: str
    text: str
    kind: str
    numerator: BenchSelector
    denominator: tuple[BenchSelector, ...]
    comparison: str
    limit: float
    full_run_only: str = ""
    known_limit: str = ""


@dataclass(frozen=True)
class Workloads:
    """The whole validated instance file."""

    path: Path
    gate_workers: int
    workloads: Mapping[str, float]  # name -> item_latency_s
    word_cycle: tuple[str, ...]
    operations: Mapping[str, Operation]
    known_answers: Mapping[str, Any] = field(default_factory=dict)
    benchmark_targets: tuple[BenchmarkTarget, ...] = ()

    def gate(self, gate_id: str) -> Gate:
        """Return the gate with id ``gate_id`` (e.g. ``"R2"``)."""
        for op in self.operations.values():
            for g in op.gates:
                if g.id == gate_id:
                    return g
        raise KeyError(f"no gate {gate_id!r} in {self.path}")

    @property
    def gates(self) -> list[Gate]:
        """Every gate, in file order."""
        return [g for op in self.operations.values() for g in op.gates]

    def prime_count(self, limit: int) -> int:
        """Known number of primes below ``limit``."""
        return int(self.known_answers["prime_counts"][str(limit)])


def default_instances_dir() -> Path:
    """Folder of the workload instances.

    Returns
    -------
    Path
        ``$PPD_INSTANCES`` if set, else ``instances/`` beside this package's repo.
    """
    env = os.environ.get("PPD_INSTANCES")
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent / "instances"


def _need(obj: Mapping[str, Any], key: str, typ: type | tuple[type, ...], where: str) -> Any:
    if not isinstance(obj, Mapping) or key not in obj:
        raise InstanceError(f"{where}: missing required field {key!r}")
    value = obj[key]
    if isinstance(value, bool) and typ is not bool or not isinstance(value, typ):
        raise InstanceError(f"{where}.{key}: expected {getattr(typ, '__name__', typ)}, "
                            f"got {type(value).__name__} {value!r}")
    return value


def _optional_text(obj: Mapping[str, Any], key: str, meaning: str, where: str) -> str:
    """An optional str field of ``obj`` ("" when absent); ``meaning`` goes into the error."""
    value = obj.get(key, "")
    if not isinstance(value, str):
        raise InstanceError(f"{where}.{key}: expected str ({meaning}), got {value!r}")
    return value


def _positive_ints(values: Any, where: str) -> tuple[int, ...]:
    if not isinstance(values, list) or not values:
        raise InstanceError(f"{where}: expected a non-empty list of positive integers, got {values!r}")
    for i, v in enumerate(values):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise InstanceError(f"{where}[{i}]: expected a positive integer, got {v!r}")
    return tuple(values)


def _parse_gate(raw: Any, op: str, workloads: Mapping[str, float], where: str) -> Gate:
    kind = _need(raw, "kind", str, where)
    if kind not in _GATE_KINDS:
        raise InstanceError(f"{where}.kind: expected one of {_GATE_KINDS}, got {kind!r}")
    workload = _need(raw, "workload", str, where)
    if workload not in workloads:
        raise InstanceError(f"{where}.workload: {workload!r} is not a declared workload "
                            f"({sorted(workloads)})")
    limit = _need(raw, "limit", (int, float), where)
    if limit <= 0:
        raise InstanceError(f"{where}.limit: expected a positive number, got {limit!r}")
    return Gate(id=_need(raw, "id", str, where), operation=op,
                size=_positive_ints([_need(raw, "size", int, where)], f"{where}.size")[0],
                workers=_positive_ints([_need(raw, "workers", int, where)], f"{where}.workers")[0],
                workload=workload, kind=kind, limit=float(limit), text=_need(raw, "text", str, where))


def _parse_selector(raw: Any, kind: str, where: str) -> BenchSelector:
    """One ``{"benchmark": "module.Suite.<kind>_name", "params": {...}}``."""
    name = _need(raw, "benchmark", str, where)
    parts = name.split(".")
    if len(parts) < 2 or not all(parts) or not parts[-1].startswith(f"{kind}_"):
        raise InstanceError(f"{where}.benchmark: expected asv's dotted name of a {kind}_ "
                            f"benchmark (module.Suite.{kind}_...), got {name!r}")
    params = raw.get("params", {})
    if not isinstance(params, dict):
        raise InstanceError(f"{where}.params: expected an object of parameter values, "
                            f"got {type(params).__name__} {params!r}")
    for key, value in params.items():
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise InstanceError(f"{where}.params.{key}: expected a string or a number, "
                                f"got {value!r}")
    return BenchSelector(benchmark=name, params=dict(params))


def _parse_denominator(raw: Any, where: str) -> tuple[BenchSelector, ...]:
    """A selector, or ``{"min_of": [selector, selector, ...]}`` ("the better of")."""
    if isinstance(raw, Mapping) and "min_of" in raw:
        items = raw["min_of"]
        if not isinstance(items, list) or len(items) < 2:
            raise InstanceError(f"{where}.min_of: expected a list of at least 2 selectors, "
                                f"got {items!r}")
        return tuple(_parse_selector(s, "time", f"{where}.min_of[{i}]")
                     for i, s in enumerate(items))
    return (_parse_selector(raw, "time", where),)


def _parse_target(raw: Any, where: str) -> BenchmarkTarget:
    measure = _need(raw, "measure", dict, where)
    kind = _need(measure, "kind", str, f"{where}.measure")
    if kind not in _MEASURE_KINDS:
        raise InstanceError(f"{where}.measure.kind: expected one of {_MEASURE_KINDS}, "
                            f"got {kind!r}")
    if kind == "ratio":
        numerator = _parse_selector(_need(measure, "numerator", dict, f"{where}.measure"),
                                    "time", f"{where}.measure.numerator")
        denominator = _parse_denominator(_need(measure, "denominator", dict,
                                               f"{where}.measure"), f"{where}.measure.denominator")
    else:
        numerator = _parse_selector(_need(measure, "value", dict, f"{where}.measure"),
                                    "track", f"{where}.measure.value")
        denominator = ()
    comparison = _need(raw, "comparison", str, where)
    if comparison not in TARGET_COMPARISONS:
        raise InstanceError(f"{where}.comparison: expected one of {TARGET_COMPARISONS}, "
                            f"got {comparison!r}")
    limit = _need(raw, "limit", (int, float), where)
    if not limit > 0:
        raise InstanceError(f"{where}.limit: expected a positive number, got {limit!r}")
    full_run_only = _optional_text(raw, "full_run_only", "why quick mode is not the "
                                   "target's setting", where)
    known_limit = _optional_text(raw, "known_limit", "why the target is known not to be met "
                                 "here", where)
    return BenchmarkTarget(id=_need(raw, "id", str, where),
                           text=_need(raw, "text", str, where), kind=kind, numerator=numerator,
                           denominator=denominator, comparison=comparison, limit=float(limit),
                           full_run_only=full_run_only, known_limit=known_limit)


def _parse_targets(raw: Any, where: str) -> tuple[BenchmarkTarget, ...]:
    if not isinstance(raw, list):
        raise InstanceError(f"{where}: expected a list of targets, got {type(raw).__name__}")
    targets = tuple(_parse_target(t, f"{where}[{i}]") for i, t in enumerate(raw))
    ids = [t.id for t in targets]
    dup = {i for i in ids if ids.count(i) > 1}
    if dup:
        raise InstanceError(f"{where}: duplicate target ids {sorted(dup)}")
    return targets


def _parse_operation(name: str, raw: Any, workloads: Mapping[str, float], where: str) -> Operation:
    family = _need(raw, "family", str, where)
    if family not in _FAMILIES:
        raise InstanceError(f"{where}.family: expected one of {_FAMILIES}, got {family!r}")
    builder = _need(raw, "builder", str, where)
    if builder not in BUILDERS:
        raise InstanceError(f"{where}.builder: expected one of {BUILDERS}, got {builder!r}")
    raw_sizes = _need(raw, "sizes", dict, where)
    sizes = {k: _positive_ints(raw_sizes.get(k), f"{where}.sizes.{k}") for k in _SIZE_KEYS}
    if "scale" in raw_sizes:  # optional: the scaling curve's extra sizes
        sizes["scale"] = _positive_ints(raw_sizes["scale"], f"{where}.sizes.scale")
    gates = tuple(_parse_gate(g, name, workloads, f"{where}.gates[{i}]")
                  for i, g in enumerate(_need(raw, "gates", list, where)))
    batch_len = raw.get("batch_len", 0)
    if builder == "test_batches":
        batch_len = _need(raw, "batch_len", int, where)
    return Operation(name=name, family=family, builder=builder, call=_need(raw, "call", dict, where),
                     sizes=sizes, baseline_max=_need(raw, "baseline_max", int, where),
                     baseline_max_reason=_need(raw, "baseline_max_reason", str, where),
                     gates=gates, batch_len=batch_len)


def parse_workloads(raw: Any, path: Path) -> Workloads:
    """Validate a decoded instance document.

    Parameters
    ----------
    raw : Any
        The decoded JSON document.
    path : Path
        Where it came from (named in errors, kept as ``Workloads.path``).

    Returns
    -------
    Workloads

    Raises
    ------
    InstanceError
        Naming the field that is missing, of the wrong type or out of range.
    """
    where = path.name
    if not isinstance(raw, dict):
        raise InstanceError(f"{where}: expected a JSON object at top level, got {type(raw).__name__}")
    if _need(raw, "schema_version", int, where) != 1:
        raise InstanceError(f"{where}.schema_version: expected 1, got {raw['schema_version']!r}")
    workloads = {}
    for wname, w in _need(raw, "workloads", dict, where).items():
        lat = _need(w, "item_latency_s", (int, float), f"{where}.workloads.{wname}")
        if lat < 0:
            raise InstanceError(f"{where}.workloads.{wname}.item_latency_s: expected >= 0, got {lat!r}")
        workloads[wname] = float(lat)
    ops = {name: _parse_operation(name, op, workloads, f"{where}.operations.{name}")
           for name, op in _need(raw, "operations", dict, where).items()}
    if not ops:
        raise InstanceError(f"{where}.operations: expected at least one operation")
    ids = [g.id for op in ops.values() for g in op.gates]
    dup = {i for i in ids if ids.count(i) > 1}
    if dup:
        raise InstanceError(f"{where}: duplicate gate ids {sorted(dup)}")
    cycle = _need(raw, "word_cycle", list, where)
    targets = _parse_targets(raw.get("benchmark_targets", []), f"{where}.benchmark_targets")
    return Workloads(path=path, gate_workers=_need(raw, "gate_workers", int, where),
                     workloads=workloads, word_cycle=tuple(cycle), operations=ops,
                     known_answers=raw.get("known_answers", {}), benchmark_targets=targets)


def load_workloads(path: str | os.PathLike[str] | None = None) -> Workloads:
    """Read and validate the workload instances.

    Parameters
    ----------
    path : path-like, optional
        A ``workloads.json`` file or the folder holding it; default
        :func:`default_instances_dir`.

    Returns
    -------
    Workloads

    Raises
    ------
    InstanceError
        If the file is missing, is not JSON, or a field is missing or of the wrong type.
    """
    p = Path(path) if path is not None else default_instances_dir()
    if p.is_dir():
        p = p / "workloads.json"
    try:
        raw = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InstanceError(f"{p}: workload instance file not found") from None
    except json.JSONDecodeError as exc:
        raise InstanceError(f"{p}: not valid JSON ({exc})") from None
    return parse_workloads(raw, p)
