"""Evaluation harness: workload instances, the comparison report and the patch.

Public entry points
-------------------
- :func:`evaluation.workloads.load_workloads` - the validated workload instances
  (``instances/workloads.json``), the single source of sizes, gates and known answers.
- ``python -m evaluation`` - runs the gates on both implementations and the asv
  suites, then writes the comparison report.
"""
