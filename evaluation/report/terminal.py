"""What ``python -m evaluation`` prints: a summary that fits a terminal.

The report's own summary table carries every figure's reason inline ("n/a (cannot
extrapolate: b=0.31 < 0.8 over sizes 500-2000 ...)"), about 250 characters a row; a
terminal wraps that into noise. Here each row keeps six short columns - operation,
seed target met?, optimized, baseline, speed-up, the gates' verdicts - laid out from the
cells' parts (:class:`~evaluation.report.summary.Cell`, never by parsing their text): an
extrapolated figure is marked ``*``, every note that would not fit its column becomes a
numbered footnote under the table (one number per distinct note), and the last line
names the HTML report to open.
"""
from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from ..verdicts.gates import MISSED, PASS
from .summary import Cell

__all__ = ["WIDTH", "compact_summary"]

#: Columns the printed summary may use.
WIDTH = 120
#: (title, width) of each column; the widths and the separators fit in WIDTH.
_COLUMNS = (("operation", 32), ("met?", 5), ("optimized", 14), ("baseline", 14),
            ("speed-up", 12), ("gates (optimized)", 36))
_SEP = " "
_EXTRAPOLATED = "*"


def _gates_cell(op: str, gates: pd.DataFrame) -> str:
    """``R2 pass, R2-latency pass``: each gate's verdict on the optimized side."""
    g = gates[gates["operation"] == op] if "operation" in gates else gates.iloc[0:0]
    return ", ".join(f"{r['gate']} {r['optimized']}" for _, r in g.iterrows()) or "no seed gate"


def _target_met(op: str, gates: pd.DataFrame) -> str:
    g = gates[gates["operation"] == op] if "operation" in gates else gates.iloc[0:0]
    if g.empty:
        return "-"
    verdicts = set(g["optimized"])
    if verdicts == {PASS}:
        return "yes"
    return "NO" if verdicts & set(MISSED) else "n/a"


def _words(text: str, room: int) -> str:
    """The leading whole words of ``text`` that fit ``room`` columns - never a cut word."""
    words: list[str] = []
    for w in text.split():
        if len(" ".join([*words, w])) > room:
            break
        words.append(w)
    return " ".join(words).rstrip(":,;") or "see"


class _Notes:
    """Numbered footnotes: the same text always gets the same number."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def cell(self, cell: Cell, width: int) -> str:
        """``cell`` in ``width`` columns: ``*`` for an extrapolation, a footnote for the rest.

        The full cell if it fits (its extrapolation shown as ``*``, one legend line);
        else its head - or its short word, or its leading words - and a footnote mark
        for its note (for the head itself, where the cell is one sentence). The same
        footnote text keeps one number wherever it appears.
        """
        star = _EXTRAPOLATED if cell.extrapolated else ""
        full = cell.head + star + (f" ({cell.note})" if cell.note else "")
        if len(full) <= width:
            return full
        note = cell.note or cell.head
        if note not in self.texts:
            self.texts.append(note)
        mark = f"{star} [{self.texts.index(note) + 1}]"
        room = width - len(mark)
        head = cell.head if cell.note and len(cell.head) <= room else \
            (cell.short if cell.short and len(cell.short) <= room else _words(cell.head, room))
        return head + mark

    def lines(self) -> list[str]:
        out = []
        for i, text in enumerate(self.texts, 1):
            out += textwrap.wrap(text, WIDTH, initial_indent=f"[{i}] ",
                                 subsequent_indent=" " * (len(str(i)) + 3))
        return out


def compact_summary(rows: Sequence[Mapping[str, Any]], gates: pd.DataFrame, verdict: str,
                    html: Path | None) -> str:
    """The summary as text no wider than :data:`WIDTH` columns.

    Parameters
    ----------
    rows : sequence of mapping
        :func:`evaluation.report.summary.summary_cells`: per operation its name and its
        baseline, optimized and speed-up :class:`~evaluation.report.summary.Cell`.
    gates : pandas.DataFrame
        :func:`evaluation.verdicts.gates.gate_verdicts` (for "target met").
    verdict : str
        The run's overall verdict line (``PASS``, ``exit code 1``...).
    html : Path, optional
        The HTML report, named on the last line.

    Returns
    -------
    str
        The table, its footnotes, the verdict and the report's path, one per line.
    """
    notes = _Notes()
    lines = [_SEP.join(title.ljust(w) for title, w in _COLUMNS).rstrip(),
             _SEP.join("-" * w for _, w in _COLUMNS)]
    starred = False
    for r in rows:
        op = str(r["operation"])
        cells = [Cell(op), Cell(_target_met(op, gates)), r["optimized"], r["baseline"],
                 r["speed-up"], Cell(_gates_cell(op, gates))]
        starred = starred or any(c.extrapolated for c in cells)
        lines.append(_SEP.join(notes.cell(c, w).ljust(w)
                               for c, (_, w) in zip(cells, _COLUMNS, strict=True)).rstrip())
    legend = [f"{_EXTRAPOLATED} extrapolated from the sizes that ran (model and hold-out error "
              "in the report)"] if starred else []
    out = lines + ([""] + legend + notes.lines() if notes.texts or legend else [])
    out = [line[:WIDTH] for line in out + ["", verdict]]
    if html is not None:
        path = f"open {html}"  # too long for the terminal: keep its end, the file's name
        out.append(path if len(path) <= WIDTH else "~" + path[-(WIDTH - 1):])
    return "\n".join(out)
