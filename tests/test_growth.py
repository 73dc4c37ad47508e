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
