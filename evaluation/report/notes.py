"""The paragraphs under the report's summary: what a reader must know to read its figures.

Each note is chosen from data - the run's mode, the figures' reason codes, the gates'
verdicts, the benchmark statuses - never from the text of another note or figure.
"""
from __future__ import annotations

from typing import Any

import pandas as pd

from ..figures.extrapolate import FAR_REACH, MAX_HOLDOUT_ERROR, MIN_FAR_EXPONENT, MIN_R2
from ..reasons import REFUSED
from ..verdicts.gates import NO_TEST, SKIPPED
from ..verdicts.targets import TARGET_VERDICTS

__all__ = ["report_notes"]


def report_notes(data_run: dict[str, Any], gates: pd.DataFrame, bench: pd.DataFrame,
                 figures: pd.DataFrame, targets: pd.DataFrame | None = None) -> list[str]:
    """The notes, in the order the report shows them (empty where nothing needs saying)."""
    notes = []
    if targets is not None and not targets.empty:
        counts = targets["verdict"].value_counts()
        notes.append("Benchmark targets: " + ", ".join(
            f"{counts.get(v, 0)} {v}" for v in TARGET_VERDICTS) + " (see Benchmark targets; "
            "informational, they do not affect the exit code).")
    excluded = data_run.get("stages", {}).get("asv", {}).get("excluded_impls", [])
    if excluded:
        notes.append(f"--skip-baseline: the asv run left out every {', '.join(excluded)} "
                     "benchmark point (shown as 'not run'), so there are no baseline figures "
                     "and no speed-ups in this report.")
    if data_run.get("mode") == "quick":
        notes.append("Quick mode: gate tests only; two benchmark sizes per operation, one asv "
                     "sample each, no peak-memory or start-up benchmarks. A first look: most "
                     "seed sizes are not run, and the few small sizes that are run are dominated "
                     "by fixed overheads, so many figures at the seed's sizes are n/a (the "
                     "extrapolation is refused, with the reason) rather than guessed; the "
                     "measured speed-up column compares what was run. The full run "
                     "(`make report`) measures them.")
    if figures["extrapolated"].any() or figures["reason"].isin(REFUSED).any():
        notes.append("*Extrapolated* figures are estimates, not measurements. The baseline's "
                     "come from its own cost model, t = c0 + c1 * W(n), where W(n) counts the "
                     "work of the original's code at size n (processes started, queue "
                     "operations, bubble-sort comparisons, trial divisions; evaluation/figures/work.py), "
                     "fitted to every size it ran (asv and the probe). The optimized side's "
                     "come from a power law t = a * n^b fitted on log-log axes, refused with "
                     f"fewer than 2 sizes, b <= 0, r2 < {MIN_R2} over 3+ sizes, or "
                     f"b < {MIN_FAR_EXPONENT} for a size more than {FAR_REACH:g}x beyond "
                     "those run (overheads, not work, dominate them). Every fit must predict "
                     "its largest size, fitted without it, within "
                     f"{MAX_HOLDOUT_ERROR:.0%} (the hold-out error shown beside it); with "
                     "2 sizes there is nothing to hold out and the figure is refused.")
    no_test = gates[gates["optimized"] == NO_TEST]["gate"].tolist()
    if no_test:
        notes.append(f"No gate test maps to: {', '.join(no_test)} (verdict 'no test').")
    skipped = gates[gates["optimized"] == SKIPPED]["gate"].tolist()
    if skipped:
        notes.append(f"Gate test(s) skipped on the optimized implementation: "
                     f"{', '.join(skipped)} - not verified by this run.")
    failed = bench[bench["status"] == "failed"]
    if not failed.empty:
        notes.append(f"{len(failed)} benchmark point(s) failed (asv null) - listed under "
                     "Benchmarks; skipped points (asv NaN, e.g. the baseline above its "
                     "feasible size) are a different thing and are shown as 'skipped'.")
    git = data_run.get("environment", {}).get("git", {})
    if git.get("dirty"):
        notes.append("The working tree had uncommitted changes: the benchmark results are "
                     f"recorded under commit {str(git.get('commit'))[:10]} but measure the tree.")
    return notes
