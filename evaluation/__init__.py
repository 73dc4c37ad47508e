"""The verification harness: run both implementations (and any candidate), judge, report.

Data flow of ``python -m evaluation`` (:mod:`evaluation.cli`), one package per stage::

    instances/workloads.json --(workloads.py, inputs.py)--> every stage's sizes and inputs
            |
    1 running/   each child in a capped process group (running/groups.py)
            |    pytest per implementation      -> raw/junit-<impl>.xml   (pytest_run.py)
            |    candidates and peers, graded   -> raw/candidates.json    (grade.py)
            |    the original beyond its sizes  -> raw/probe.json         (probe.py)
            |    the asv suites                 -> raw/asv/*.json         (asv.py, asv_files.py)
            v
    2 figures/   pure functions of raw/: outcomes (tests), bench (asv rows), reference
            |    (time at each seed size: measured, extrapolated or refused, with a
            |    reasons.Reason), baseline_truth (the probe folded in), growth, compare
            v
    3 verdicts/  gates, targets, defects, status (the exit code)
            v
    4 report/    load (ReportData) -> summary, tables, notes, sections
                 -> render: report.md, report.html (from the Markdown), report.json,
                    results.csv, plots; terminal: the one-screen summary

``python -m evaluation --from-results DIR`` runs steps 2-4 on a saved ``raw/``;
``python -m evaluation.grade`` (:mod:`evaluation.grade`) grades candidates alone;
``python -m evaluation.patch`` regenerates the reviewable diff. Why a figure or verdict
is what it is travels as a code with details (:mod:`evaluation.reasons`), put into words
in one place.
"""
