"""Stage 3 of the data flow: verdicts from the figures.

- :mod:`.gates` - each seed gate per implementation (with the asv cross-check).
- :mod:`.targets` - each benchmark target: met, NOT met, not measured (and why).
- :mod:`.defects` - the baseline's defects and the optimized failures, listed.
- :mod:`.status` - the command's exit code and its reasons.
"""
