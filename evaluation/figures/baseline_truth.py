"""What the original does at the seed's size: measured, probed, or extrapolated (D16).

:func:`apply_probe` folds the probe's outcomes (:mod:`evaluation.running.probe`, ``raw/probe.json``)
into the baseline's reference figures, and every figure gets a ``kind``:

- ``measured``: asv, or the probe, ran it at the seed's size and it finished;
- ``extrapolated``: fitted to smaller sizes (only where the probe saw no hang, crash or
  refusal on the way - never past one);
- ``wrong result``: the original returned, but not the right answer (the probe's time
  at the seed's size, or the figure above where the probe saw it go wrong on the way);
  the time stands, marked wrong, and so does a speed-up, marked the same way;
- ``hangs`` / ``crashes``: what the probe saw, at the size it saw it (the speed-up then
  reads "baseline does not finish");
- ``not run``: no figure (the probe refused a size that would start too many processes,
  or nothing was measured), with the reason. A size that was merely ``over budget``
  (still computing) does not stop an extrapolation.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from ..reasons import Reason, with_reason

__all__ = ["DOES_NOT_FINISH", "WRONG", "load_probe", "probe_points", "apply_probe", "baseline_at_seed_size"]

#: Kinds for which the baseline has no time at the seed's size, because it broke.
DOES_NOT_FINISH = ("hangs", "crashes")
#: The kind of a figure the original returned with a wrong answer (its time stands).
WRONG = "wrong result"


def load_probe(raw: Path) -> list[dict[str, Any]] | None:
    """The probe's outcomes from ``raw/probe.json``; None when the stage did not run."""
    path = raw / "probe.json"
    if not path.exists():
        return None
    return list(json.loads(path.read_text()).get("outcomes", []))


def probe_points(outcomes: list[dict[str, Any]] | None) -> dict[str, list[tuple[int, float]]]:
    """Per operation, ``(size, seconds)`` of every probed call that finished correctly."""
    points: dict[str, list[tuple[int, float]]] = {}
    for o in outcomes or []:
        if o["kind"] == "finished" and o.get("seconds") is not None:
            points.setdefault(o["operation"], []).append((int(o["size"]), float(o["seconds"])))
    return points


def _kind(row: pd.Series) -> str:
    if row["extrapolated"]:
        return "extrapolated"
    return "measured" if row["seconds"] == row["seconds"] else "not run"


def apply_probe(figures: pd.DataFrame, outcomes: list[dict[str, Any]] | None) -> pd.DataFrame:
    """Baseline figures corrected by what the probe saw; a ``kind`` for every figure.

    Parameters
    ----------
    figures : pandas.DataFrame
        :func:`evaluation.figures.reference.reference_figures`.
    outcomes : list of dict, optional
        :func:`load_probe`.

    Returns
    -------
    pandas.DataFrame
        ``figures`` with a ``kind`` column; a baseline figure the probe contradicts is
        replaced (no time; the probe's size and what it saw in ``reason``, its
        ``reason_details`` and ``note``), one it measured at the seed's size takes the
        probe's time.
    """
    out = figures.copy()
    out["kind"] = [_kind(r) for _, r in out.iterrows()]
    out["probe_size"] = pd.array([pd.NA] * len(out), dtype="Int64")
    by_op: dict[str, list[dict[str, Any]]] = {}
    for o in outcomes or []:
        by_op.setdefault(o["operation"], []).append(o)
    for i, r in out[out["impl"] == "baseline"].iterrows():
        seen = [o for o in sorted(by_op.get(r["operation"], []), key=lambda o: o["size"])
                if o["size"] <= r["size"]]
        _fold(out, i, r, seen)
    return out


def _fold(out: pd.DataFrame, i: Any, r: pd.Series, seen: list[dict[str, Any]]) -> None:
    """Row ``i`` of ``out`` corrected by the outcomes ``seen`` at sizes up to its own."""
    at_seed = [o for o in seen if o["size"] == r["size"] and o["kind"] in ("finished", WRONG)]
    # Slow is not broken: after "over budget" (or a spent probe budget) the fit stands.
    broke = [o for o in seen if o["kind"] in (*DOES_NOT_FINISH, "refused")]
    wrong = [o for o in seen if o["kind"] == WRONG]
    earlier = _wrong_text(wrong)
    if broke:
        first = broke[0]
        kind = first["kind"] if first["kind"] in DOES_NOT_FINISH else "not run"
        out.loc[i, ["seconds", "extrapolated", "kind"]] = [math.nan, False, kind]
        with_reason(out, i, Reason("probe-broke", {
            "what": kind, "size": int(first["size"]), "detail": first["detail"],
            "before": f"; before that, {earlier}" if earlier else ""}))
        out.loc[i, "probe_size"] = int(first["size"])
    elif at_seed and (at_seed[0]["kind"] == WRONG or not r["seconds"] == r["seconds"]):
        o = at_seed[0]
        kind = "measured" if o["kind"] == "finished" else WRONG
        out.loc[i, ["seconds", "extrapolated", "kind"]] = [float(o["seconds"]), False, kind]
        with_reason(out, i, Reason("probed") if kind == "measured"
                    else Reason("probe-wrong", {"detail": o["detail"]}))
    elif wrong:  # wrong on the way, then over budget or not run: the fitted time, marked
        out.loc[i, "kind"] = WRONG
        with_reason(out, i, Reason("wrong-on-the-way", {"earlier": earlier}))


def _wrong_text(wrong: list[dict[str, Any]]) -> str:
    """``wrong result at 900 (1.2 s), 2,700 (4.1 s): the right results in the wrong order``."""
    if not wrong:
        return ""
    at = ", ".join(f"{o['size']:,} ({o['seconds']:.3g} s)" if o.get("seconds") is not None
                   else f"{o['size']:,}" for o in wrong)
    details = list(dict.fromkeys(str(o["detail"]) for o in wrong))
    return f"{WRONG} at {at}: {'; '.join(details)}"


def baseline_at_seed_size(figures: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Per operation, report.json's ``baseline_at_seed_size``.

    Returns
    -------
    dict
        ``{operation: {"kind", "size", "seconds", "detail", "model", "holdout_error"}}``;
        ``size`` is the seed's size, or the size at which the probe saw it break;
        ``model`` names what an extrapolation was fitted with.
    """
    res = {}
    for _, r in figures[figures["impl"] == "baseline"].iterrows():
        size = r.get("probe_size")
        entry = {"kind": r["kind"], "size": int(size) if pd.notna(size) else int(r["size"]),
                 "seconds": None if r["seconds"] != r["seconds"] else float(r["seconds"]),
                 "detail": str(r["note"] or "")}
        if r["kind"] == "extrapolated":
            model = r.get("model") or ""
            holdout = r.get("holdout_error")
            entry.update(model=f"t = c0 + c1 * W(n), W = {model}" if model else
                         f"power law t = a * n^b (b={r['exponent']:.2f})",
                         holdout_error=None if holdout is None or holdout != holdout
                         else float(holdout))
        res[str(r["operation"])] = entry
    return res
