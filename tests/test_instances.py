"""The workload-instance loader: the real file loads; malformed ones are rejected clearly."""
from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest

from evaluation.workloads import InstanceError, load_workloads, parse_workloads

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def raw() -> dict:
    return json.loads((ROOT / "instances" / "workloads.json").read_text())


def test_real_instances_load_with_every_seed_gate(workloads) -> None:
    ids = {g.id for g in workloads.gates}
    assert {"R2", "R2-latency", "R3", "R4", "R5", "R6", "R7"} <= ids
    assert workloads.gate("R5").size == 1_000_000 and workloads.gate("R5").limit == 0.5
    assert workloads.gate_workers == 4
    assert workloads.prime_count(1_000_000) == 78498


def test_every_public_method_has_an_instance(workloads) -> None:
    import baseline
    methods = {m for m in dir(baseline.UnoptimizedParallelProcessor)
               if not m.startswith("_") and callable(getattr(baseline.UnoptimizedParallelProcessor, m))}
    helpers = {"process_single_item", "cleanup", "serialize_to_file", "deserialize_from_file",
               "find_primes_worker", "map_reduce_word_count_mapper"}
    assert methods - helpers <= set(workloads.operations)


def test_real_instances_have_the_benchmark_targets(workloads) -> None:
    targets = {t.id: t for t in workloads.benchmark_targets}
    assert len(targets) >= 16
    # ids say what they measure; no tracker numbers (a clone has no tracker)
    assert not [i for i in targets if re.match(r"^I\d+-", i)], sorted(targets)
    waiting = targets["waiting-items"]  # "2,000 x 1 ms items ... at most 70 ms"
    assert waiting.comparison == "<=" and waiting.limit == 70
    auto = targets["auto-vs-best"]  # "the better of forced-inline and forced-pool"
    assert [d.params["impl"] for d in auto.denominator] == ["inline", "pool"]
    assert targets["primes-1e8-two-cores"].comparison == "<"
    assert targets["primes-1e8-two-cores"].limit == 1.0
    # "primes below 10^8 and word count of 10^7 words on Dask within 2x of the
    # local pool; a trivial call's round trip on Dask under 20 ms"
    assert targets["dask-primes"].limit == targets["dask-words"].limit == 2.0
    assert targets["dask-round-trip"].comparison == "<"
    assert targets["dask-round-trip"].limit == 20


def test_instance_json_is_consistent(raw) -> None:
    assert (ROOT / "instances" / "instance.json").exists()
    inst = json.loads((ROOT / "instances" / "instance.json").read_text())
    assert inst["before"]["package"] == "baseline" and inst["after"]["package"] == "optimized"


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.pop("operations"), "missing required field 'operations'"),
    (lambda d: d["operations"]["run_pipeline"].pop("sizes"), "run_pipeline: missing required field 'sizes'"),
    (lambda d: d["operations"]["run_pipeline"]["sizes"].update(baseline=[0]), "sizes.baseline[0]: expected a positive integer"),
    (lambda d: d["operations"]["run_pipeline"]["sizes"].update(quick="big"), "sizes.quick: expected a non-empty list"),
    (lambda d: d["operations"]["parallel_find_primes"]["gates"][0].update(limit=-1), "limit: expected a positive number"),
    (lambda d: d["operations"]["parallel_find_primes"]["gates"][0].update(workload="nope"), "is not a declared workload"),
    (lambda d: d["operations"]["parallel_find_primes"]["gates"][0].update(kind="fast"), "kind: expected one of"),
    (lambda d: d["operations"]["parallel_find_primes"].update(family="magic"), "family: expected one of"),
    (lambda d: d["operations"]["parallel_find_primes"].update(baseline_max="10"), "baseline_max: expected int"),
    (lambda d: d["operations"]["run_pipeline"]["gates"][0].update(id="R5"), "duplicate gate ids"),
    (lambda d: d.update(schema_version=2), "schema_version: expected 1"),
    # benchmark targets: each malformed field named
    (lambda d: d.update(benchmark_targets={}), "benchmark_targets: expected a list"),
    (lambda d: d["benchmark_targets"][0].pop("limit"), "benchmark_targets[0]: missing required field 'limit'"),
    (lambda d: d["benchmark_targets"][0].update(limit=0), "benchmark_targets[0].limit: expected a positive number"),
    (lambda d: d["benchmark_targets"][0].update(comparison="=="), "benchmark_targets[0].comparison: expected one of"),
    (lambda d: d["benchmark_targets"][0]["measure"].update(kind="speed"), "benchmark_targets[0].measure.kind: expected one of"),
    (lambda d: d["benchmark_targets"][0]["measure"].pop("denominator"), "benchmark_targets[0].measure: missing required field 'denominator'"),
    (lambda d: d["benchmark_targets"][0]["measure"]["numerator"].update(benchmark="ProcessDataSpawnPerItem"),
     "benchmark_targets[0].measure.numerator.benchmark: expected asv's dotted name of a time_ benchmark"),
    (lambda d: d["benchmark_targets"][0]["measure"]["numerator"]["params"].update(size=[1]),
     "benchmark_targets[0].measure.numerator.params.size: expected a string or a number"),
    (lambda d: d["benchmark_targets"][1]["measure"]["denominator"].update(min_of=[]),
     "benchmark_targets[1].measure.denominator.min_of: expected a list of at least 2"),
    (lambda d: d["benchmark_targets"][2]["measure"]["value"].update(benchmark="bench_map.X.time_y"),
     "benchmark_targets[2].measure.value.benchmark: expected asv's dotted name of a track_ benchmark"),
    (lambda d: d["benchmark_targets"][2].update(full_run_only=True), "benchmark_targets[2].full_run_only: expected str"),
    (lambda d: d["benchmark_targets"][2].update(known_limit=1), "benchmark_targets[2].known_limit: expected str"),
    (lambda d: d["operations"]["parallel_find_primes"]["sizes"].update(scale=[0]), "sizes.scale[0]: expected a positive integer"),
    (lambda d: d["benchmark_targets"][1].update(id=d["benchmark_targets"][0]["id"]), "duplicate target ids"),
])
def test_malformed_instance_is_rejected_with_a_clear_message(raw, mutate, message) -> None:
    bad = copy.deepcopy(raw)
    mutate(bad)
    with pytest.raises(InstanceError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_workloads(bad, Path("workloads.json"))


def test_missing_or_invalid_file(tmp_path) -> None:
    with pytest.raises(InstanceError, match="not found"):
        load_workloads(tmp_path / "nope.json")
    (tmp_path / "workloads.json").write_text("{not json")
    with pytest.raises(InstanceError, match="not valid JSON"):
        load_workloads(tmp_path)
