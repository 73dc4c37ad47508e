"""What ``python -m evaluation`` prints: a summary that fits a terminal.

The report's own summary table carries every figure's reason inline ("n/a (cannot
extrapolate: b=0.31 < 0.8 over sizes 500-2000 ...)"), about 250 characters a row; a
terminal wraps that into noise. Here each row keeps six short columns - operation,
seed target met?, optimized, baseline, speed-up, the gates' verdicts - an extrapolated
figure is marked ``*``, every reason that would not fit its column becomes a numbered
footnote under the table (one number per distinct reason), and the last line names the
HTML report to open.
"""
from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pandas as pd

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
    if verdicts == {"pass"}:
        return "yes"
    return "NO" if verdicts & {"fail", "not met (known limit)"} else "n/a"


#: "(extrapolated, W = processes started (one per element), hold-out error 3%)": one
#: level of parentheses inside.
_EXTRAPOLATION = re.compile(r" \(extrapolated(?:[^()]|\([^()]*\))*\)")
#: Verdict words for a sentence too long for its column (its footnote has all of it).
_SHORT = (("wrong result", "wrong"), ("baseline does not finish", "n/a"),
          ("not run", "not run"), ("hangs", "hangs"), ("crashes", "crashes"), ("n/a", "n/a"))


def _shorten(head: str, room: int) -> str:
    """A verdict word, or the head's leading whole words, in ``room`` columns - never a cut word."""
    for prefix, word in _SHORT:
        if head.startswith(prefix) and len(word) <= room:
            return word
    words: list[str] = []
    for w in head.split():
        if len(" ".join([*words, w])) > room:
            break
        words.append(w)
    return " ".join(words).rstrip(":,;") or "see"


class _Notes:
    """Numbered footnotes: the same text always gets the same number."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def cell(self, text: str, width: int) -> str:
        """``text`` if it fits ``width``, else its head plus a footnote mark.

        An extrapolated figure is marked ``*`` (one legend line), and the same
        reason keeps one number wherever it appears.
        """
        text = _EXTRAPOLATION.sub(_EXTRAPOLATED, str(text), count=1)
        if len(text) <= width:
            return text
        head, _, reason = text.partition(" (")
        note = reason[:-1] if reason.endswith(")") else (reason or text)
        if len(head) > width:  # a sentence ("crashes at 90,000: ... (killed)"): all of it
            note = text
        if note not in self.texts:
            self.texts.append(note)
        mark = f" [{self.texts.index(note) + 1}]"
        if len(head) + len(mark) > width:
            head = _shorten(head, width - len(mark))
        return head + mark

    def lines(self) -> list[str]:
        out = []
        for i, text in enumerate(self.texts, 1):
            out += textwrap.wrap(text, WIDTH, initial_indent=f"[{i}] ",
                                 subsequent_indent=" " * (len(str(i)) + 3))
        return out


def compact_summary(summary: pd.DataFrame, gates: pd.DataFrame, verdict: str,
                    html: Path | None) -> str:
    """The summary as text no wider than :data:`WIDTH` columns.

    Parameters
    ----------
    summary : pandas.DataFrame
        :func:`evaluation.analysis.summary_table` (operation, baseline, optimized,
        speed-up, verdict).
    gates : pandas.DataFrame
        :func:`evaluation.analysis.gate_verdicts` (for "target met").
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
    rows = [_SEP.join(title.ljust(w) for title, w in _COLUMNS).rstrip(),
            _SEP.join("-" * w for _, w in _COLUMNS)]
    for _, r in summary.iterrows():
        op = str(r["operation"])
        cells = [op, _target_met(op, gates), r["optimized"], r["baseline"], r["speed-up"],
                 _gates_cell(op, gates)]
        rows.append(_SEP.join(notes.cell(c, w).ljust(w)
                              for c, (_, w) in zip(cells, _COLUMNS, strict=True)).rstrip())
    legend = [f"{_EXTRAPOLATED} extrapolated from the sizes that ran (model and hold-out error "
              "in the report)"] if any(_EXTRAPOLATED in row for row in rows[2:]) else []
    out = rows + ([""] + legend + notes.lines() if notes.texts or legend else [])
    out += ["", verdict]
    if html is not None:
        out.append(f"open {html}")
    return "\n".join(line if len(line) <= WIDTH else _clip(line) for line in out)


def _clip(line: str) -> str:
    """Last resort for a path longer than the terminal: keep its end (the file name)."""
    return "~" + line[-(WIDTH - 1):] if re.match(r"^open ", line) else line[:WIDTH]
