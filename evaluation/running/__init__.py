"""Stage 1 of the data flow: run things, each in a capped process group, into ``raw/``.

- :mod:`.stages` - the order: pytest per implementation, grading, the probe, asv.
- :mod:`.groups` - the one way a child is run: :func:`~.groups.process_group`, with
  :func:`~.groups.run_capped` (pytest, asv) and :func:`~.groups.run_group` (untrusted
  code: the original at large sizes, candidates; :mod:`.procstate` reads ``/proc``).
- :mod:`.pytest_run` - pytest on one implementation, and its JUnit XML read back.
- :mod:`.asv`, :mod:`.asv_files` - the asv suites, and their result files.
- :mod:`.probe` (:mod:`.probe_child`) - the original beyond its benchmark sizes.
- :mod:`.candidates`, :mod:`.grade` (:mod:`.grade_child`), :mod:`.results_diff` - any
  implementation of the original's API, graded.
"""
