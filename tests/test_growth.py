"""The report's growth exponents, on the fixture asv results."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evaluation.figures.bench import load_results
from evaluation.figures.growth import growth_table
from evaluation.workloads import load_workloads

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "evaluation" / "raw"


def test_exponents_are_fitted_over_the_largest_sizes_beside_the_single_reference() -> None:
    w = load_workloads(ROOT / "instances")
    table = growth_table(load_results(FIXTURES / "asv", w.operations), w)
    primes = table[table["operation"] == "parallel_find_primes"].set_index("impl")
    assert set(primes.index) >= {"optimized", "single", "baseline"}
    assert primes.loc["single", "b - single's b"] == 0.0
    assert primes.loc["baseline", "exponent b"] > primes.loc["single", "exponent b"]
    assert primes.loc["optimized", "sizes"].endswith("1,000,000")


def test_exponent_of_an_exact_power_law_is_recovered() -> None:
    w = load_workloads(ROOT / "instances")
    bench = load_results(FIXTURES / "asv", w.operations)
    rows = bench[(bench["benchmark"].str.endswith("time_parallel_find_primes"))
                 & (bench["impl"] == "single")].copy()
    assert len(rows) >= 2
    rows["median"] = 1e-9 * rows["size"].astype(float) ** 1.5  # exactly n**1.5
    other = bench.drop(rows.index)
    got = growth_table(pd.concat([other, rows]), w)
    b = got[(got["operation"] == "parallel_find_primes") & (got["impl"] == "single")]["exponent b"]
    assert float(b.iloc[0]) == pytest.approx(1.5, abs=0.01) and np.isfinite(b).all()


def test_the_curve_joins_the_main_suite_and_its_companion_at_scale_only() -> None:
    # The scaling sizes run in "<Suite>AtScale" (one asv round); the growth figures and
    # plots read them as one curve with the main suite, and never mix in another suite.
    from evaluation.figures.reference import scale_companion, timed_rows
    w = load_workloads(ROOT / "instances")
    bench = load_results(FIXTURES / "asv", w.operations)
    assert scale_companion("bench_primes.ParallelFindPrimes.time_parallel_find_primes") == \
        "bench_primes.ParallelFindPrimesAtScale.time_parallel_find_primes"
    main = "bench_fixture.FindPrimes.time_parallel_find_primes"
    assert scale_companion(scale_companion(main)) == scale_companion(main)
    rows = bench[bench["benchmark"] == main]
    assert not rows.empty
    top = rows[rows["size"] == rows["size"].max()].copy()
    at_scale = top.assign(benchmark=scale_companion(main), suite="FindPrimesAtScale",
                          size=top["size"] * 10, median=top["median"] * 10)
    other = top.assign(benchmark="bench_fixture.FindPrimesOther.time_parallel_find_primes",
                       suite="FindPrimesOther", size=top["size"] * 100)
    got = timed_rows(pd.concat([bench, at_scale, other], ignore_index=True),
                     "parallel_find_primes", "compute", 4, w)
    assert set(got["benchmark"]) == {main, scale_companion(main)}
    assert set(got["size"]) == set(rows["size"]) | set(at_scale["size"])
    with_scale = growth_table(pd.concat([bench, at_scale], ignore_index=True), w)
    sizes = with_scale[(with_scale["operation"] == "parallel_find_primes")
                       & (with_scale["impl"] == "optimized")]["sizes"].iloc[0]
    assert sizes.endswith(f"{int(top['size'].max()) * 10:,}"), sizes
