"""Why a figure, a verdict or a check is what it is: a code plus details, in words here only.

A table of the report that explains itself carries a :class:`Reason` per row: a ``code``
that code can test (``reason.code in REFUSED``, ``figures["reason"].isin(REFUSED)``) and
the ``details`` that fill its sentence. The sentences live in :data:`TEMPLATES` and
nowhere else; :meth:`Reason.text` renders one. Tests assert codes and details, never
sentences, so rewording a message touches this file alone.

In a DataFrame a reason travels as two columns, ``reason`` (the code) and ``note`` (the
rendered text, what tables show), set together by :func:`with_reason`.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

__all__ = ["Reason", "TEMPLATES", "REFUSED", "EXTRAPOLATED", "with_reason", "NONE"]

#: Every reason's sentence, by code. ``{name}`` fields come from the details; a field
#: with a format spec (``{b:.2f}``) must be given a number.
TEMPLATES: dict[str, str] = {
    "": "",
    # -- a figure at an operation's reference size (figures.extrapolate) -------------------
    "measured": "",
    "probed": "probed at this size",
    "failed-at-size": "failed at this size (asv null)",
    "not-measured-at-size": "not measured at this size",
    "no-successful-measurement": "no successful measurement",
    "not-benchmarked": "not benchmarked",
    "refused-one-size": "cannot extrapolate: only 1 size run ({size:,})",
    "refused-fit-error": "cannot extrapolate: {error}",
    "refused-overhead-dominated": "cannot extrapolate: fitted exponent b={b:.2f} <= 0 "
                                  "(overhead-dominated)",
    "refused-poor-fit": "cannot extrapolate: poor power-law fit (r2={r2:.2f} < {min_r2})",
    "refused-flat-far": "cannot extrapolate: b={b:.2f} < {min_b} over sizes {lo:g}-{hi:g} "
                        "(overhead-dominated), {reach:,.0f}x beyond them",
    "refused-no-holdout": "cannot extrapolate: cannot validate the fit{of_model}: {sizes} sizes "
                          "leave none to hold out",
    "refused-holdout": "cannot extrapolate: hold-out error {error:.0%} > {limit:.0%} ({how}, "
                       "fitted without the largest size, mispredicts it)",
    "power-law": "fit over sizes {lo:g}-{hi:g}",
    "work-model": "t = c0 + c1*W(n) over sizes {lo:g}-{hi:g}, W = {model}",
    # -- what the probe saw of the original (figures.baseline_truth) -----------------------
    "probe-broke": "{what} at {size:,}: {detail}{before}",
    "probe-wrong": "wrong result: {detail}",
    "wrong-on-the-way": "{earlier}",
    # -- the asv cross-check of a max_seconds gate (verdicts.gates) -------------------------
    "checked-by-test": "checked by its test only",
    "no-benchmark-figure": "no benchmark figure",
    "benchmark-elsewhere": "benchmark not at the gate's size/workload",
    "extrapolated-at-gate": "not measured at the gate's size",
    "within-limit": "within limit",
    "over-limit": "over limit",
    # -- a benchmark target (verdicts.targets) ----------------------------------------------
    "benchmark-missing": "{point}: benchmark not in this run's results",
    "point-not-run": "{point}: {missing}{quick}",
    "point-ambiguous": "{selector}: selects {count} points, not one",
    "point-failed": "{selector}: benchmark failed (asv null)",
    "point-skipped": "{selector}: skipped (asv NaN)",
    "points-missing": "{reasons}",
    "quick-mode": "quick mode: {why} (figure shown at quick mode's setting)",
    "known-limit": "known limit: {limit}",
}

#: Codes of a figure whose extrapolation was refused (it has no time, and says why).
REFUSED = frozenset(c for c in TEMPLATES if c.startswith("refused-"))
#: Codes of an extrapolated figure.
EXTRAPOLATED = frozenset({"power-law", "work-model"})


@dataclass(frozen=True)
class Reason:
    """A code and the details its sentence needs.

    Attributes
    ----------
    code : str
        A key of :data:`TEMPLATES` (``""``: nothing to say).
    details : mapping
        The template's fields.
    """

    code: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.code not in TEMPLATES:
            raise KeyError(f"unknown reason code {self.code!r}; known: {sorted(TEMPLATES)}")

    def text(self) -> str:
        """The sentence, with the details filled in."""
        return TEMPLATES[self.code].format(**self.details)

    def __bool__(self) -> bool:
        return bool(self.code)


#: No reason (a figure measured as it is, a target met).
NONE = Reason()


def with_reason(frame: pd.DataFrame, index: Any, reason: Reason) -> None:
    """Set row ``index``'s ``reason`` code, ``reason_details`` and ``note`` in place."""
    frame.loc[index, ["reason", "note"]] = [reason.code, reason.text()]
    frame.at[index, "reason_details"] = dict(reason.details)
