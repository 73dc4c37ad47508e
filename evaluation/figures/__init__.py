"""Stage 2 of the data flow: figures from the raw results (pure functions of them).

- :mod:`.outcomes` - test outcomes as a table, gate tests mapped to gates.
- :mod:`.bench` - asv's result file as a tidy frame.
- :mod:`.reference` - each operation's time at its reference size, measured speed-ups;
  :mod:`.extrapolate` - how a size not run gets a figure or a refusal (:mod:`.fit`,
  :mod:`.work`: the original's own work count).
- :mod:`.baseline_truth` - what the probe saw of the original, folded into its figures.
- :mod:`.growth` - fitted growth exponents; :mod:`.compare` - changes since a REF.
"""
