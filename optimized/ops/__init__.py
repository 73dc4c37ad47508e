"""One module per operation family; each exposes functions taking a :class:`~optimized.call.Call`.

- :mod:`.mapping`   - per-item map, user ``map``, sum, statistics, batches (R1-R3)
- :mod:`.matrix`    - matrix multiply (R4)
- :mod:`.primes`    - segmented sieve (R5)
- :mod:`.pipeline`  - batched, back-pressured stage pipeline (R6)
- :mod:`.stages`    - its stage functions: per-item / per-batch, the default stages, batch transport
- :mod:`.wordcount` - index-partitioned word count (R7)
"""
