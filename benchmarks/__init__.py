"""asv benchmark suites: every public operation x implementation x size.

asv is the project's one timing engine; the evaluation report reads its results
(``evaluation/figures/bench.py``), so the names below are an interface. Keep them exactly.

Naming convention
-----------------
Modules
    One ``bench_<area>.py`` per operation family: ``bench_map``, ``bench_matrix``,
    ``bench_primes``, ``bench_wordcount``, ``bench_pipeline``, ``bench_streaming``
    (``imap``), plus ``bench_startup``
    (processor start-up and shutdown). What several suites share - instances, sizes,
    processors, seeded and cached inputs, the generic operation benchmark - lives in
    :mod:`benchmarks.common`, the ``single`` references in :mod:`benchmarks.references`,
    peak-memory measurement in :mod:`benchmarks.memory`; what one suite alone uses
    lives in that suite.
``time_<public method name>``
    Every timed benchmark of a public processor operation is a method named after the
    method it times, e.g. ``time_parallel_find_primes``, in a class of its own.
    ``param_names = ["impl", "size"]``, optionally a third, ``"workers"`` (only where
    the benchmark is about the worker count; otherwise 4 workers,
    ``workloads.gate_workers``).
``impl`` values
    ``"baseline"``  the original ``UnoptimizedParallelProcessor``;
    ``"optimized"`` ``OptimizedParallelProcessor`` with ``execution="auto"``;
    ``"inline"``    the optimized processor forced in-process (``execution="inline"``);
    ``"pool"``      the optimized processor forced onto its pool (``execution="pool"``);
    ``"single"``    the best single-process implementation of the same work (NumPy,
    ``Counter``...), where one exists. One policy for all of them
    (:mod:`benchmarks.references`): each is this suite's own code, written from the
    operation's contract and never imported from the processor under test, so the
    yardstick is the same for every commit asv measures.
    ``"dask"``      the optimized processor on a Dask ``LocalCluster`` (``bench_cluster``).
    ``"primesieve"`` the C++ primesieve library's sieve plus ``tolist()``: the physical
    anchor of the primes below 10**9 (``bench_primes``; skipped where it is not
    installed - an optional reference, never a dependency).
    Quick mode (``PPD_BENCH_QUICK=1``) runs ``baseline``, ``optimized`` and ``single``
    only: ``inline``/``pool`` are the same code with another ``execution``.
``size``
    The operation's ``sizes["optimized"]`` union ``sizes["baseline"]`` union its
    gates' sizes from ``instances/workloads.json``
    (items, words, matrix dimension, prime limit, number of batches - whatever the
    instance's builder takes). The baseline is *skipped* (``NotImplementedError`` in
    ``setup``, stored by asv as NaN) above the operation's ``baseline_max``, never
    timed out by luck. The scaling sizes (10**9 primes, 10**7 items, 5 * 10**7
    words, 4000 x 4000; full runs only) run in a companion suite ``<Suite>AtScale``
    (``common.at_scale``: the same benchmark code, ``optimized`` and ``single`` only,
    one asv round), which the report joins to the main suite's curve.
Workloads
    Every suite runs the ``compute`` workload (no simulated latency) unless its class
    name contains the workload's name: ``*Latency`` suites run the original's 1 ms
    items, up to the size of the operation's gate on that workload. The evaluation
    reads a gate's reference figure from the suite of the gate's workload.
``peakmem_<public method name>``
    Peak resident memory of the benchmark process (interpreter, imports and the input
    built in ``setup`` included; pool workers are separate processes and are not
    counted) for the big cases, always next to the smallest size of the same
    operation, the trivial-case floor that gives the big number its meaning.
``track_<figure>``
    Figures that matter and are not times, with ``unit`` set:
    ``track_parallel_efficiency`` (CPU-bound items through ``map`` on 2 workers),
    ``track_ipc_share`` (R3: ``last_metrics.overhead_share``, latency workload),
    ``track_throughput_ratio`` (R6: pipeline throughput over its slowest stage's;
    ``_stage_per_process`` and ``_per_item_stages`` variants),
    ``track_parent_peak_rss`` / ``track_worker_peak_rss`` (MiB: peak RSS of the
    calling process and of the largest pool worker during one big call - asv's
    ``peakmem_`` sees the calling process only), ``track_parent_peak_over_result``
    (the parent's growth during the call over the result's own size).
``time_startup`` / ``time_close``
    Processor start-up (construction: pool and all workers started) and shutdown, on
    their own, ``param_names = ["impl", "start_method"]``.

Processors are created in ``setup`` and closed in ``teardown`` (warm-pool timings: the
start-up cost is measured on its own, never inside an operation's time); timed bodies
are one line. Environment variable ``PPD_BENCH_QUICK=1`` restricts every suite to two
sizes - the smallest baseline size and the largest of the instances' ``sizes["quick"]``
- and so skips the huge cases (smoke tests, quick reports).
"""
