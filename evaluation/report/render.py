"""Write a report folder: ``report.md``, ``report.html`` (rendered from the Markdown by
markdown-it-py, one source for both), ``report.json``, ``results.csv`` and the plots."""
from __future__ import annotations

import html
import json
from pathlib import Path

import pandas as pd
from markdown_it import MarkdownIt

from ..workloads import Workloads
from .export import report_json
from .load import ReportData
from .plots import plot_changes, plot_scaling, plot_speedups
from .sections import Section, sections

__all__ = ["write_report", "markdown", "to_html", "REPORT_FILES"]

#: Files every report folder has (plots come in addition).
REPORT_FILES = ("report.json", "results.csv", "report.md", "report.html")
_CSS = ("body{font-family:sans-serif;margin:2em;max-width:1400px}table{border-collapse:collapse;"
        "font-size:13px;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 6px;"
        "text-align:left}th{background:#eee}img{max-width:100%;margin:.5em 0}")


def _cells(table: pd.DataFrame) -> pd.DataFrame:
    """Cells as Markdown table text: a ``|`` inside a cell would end it, a newline the row."""
    return table.map(lambda v: "" if v is None else
                     str(v).replace("|", "\\|").replace("\n", " "))


def markdown(secs: list[Section], title: str) -> str:
    """The sections as one Markdown document (GitHub pipe tables, images by file name).

    Parameters
    ----------
    secs : list of Section
        From :func:`~evaluation.report.sections.sections`.
    title : str
        The document's heading.

    Returns
    -------
    str
    """
    lines = [f"# {title}", ""]
    for s in secs:
        lines += [f"## {s.title}", ""]
        for p in s.paragraphs:
            lines += [p, ""]
        if s.table is not None and not s.table.empty:
            lines += [_cells(s.table).to_markdown(index=False, disable_numparse=True), ""]
        for img in s.images:
            lines += [f"![{img}]({img})", ""]
    return "\n".join(lines)


def to_html(text: str, title: str) -> str:
    """A Markdown document as a standalone HTML page (CommonMark plus tables).

    Parameters
    ----------
    text : str
        From :func:`markdown`.
    title : str
        The page's ``<title>``.

    Returns
    -------
    str
    """
    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(text)
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
            f"</title><style>{_CSS}</style></head><body>\n{body}</body></html>\n")


def write_report(data: ReportData, workloads: Workloads, out_dir: Path,
                 asv_html: Path | None = None) -> list[Path]:
    """Write plots, ``report.json``, ``results.csv``, ``report.md`` and ``report.html``.

    Parameters
    ----------
    data : ReportData
        From :func:`~evaluation.report.load.build_report`.
    workloads : Workloads
        The instances the report was computed with.
    out_dir : Path
        The report folder (holding ``raw/``).
    asv_html : Path, optional
        ``asv publish`` output (``index.html``); linked when it exists.

    Returns
    -------
    list of Path
        Every file written.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    data.plots = plot_scaling(data.bench, data.figures, workloads, out_dir)
    if data.comparison is not None:
        data.plots += plot_changes(data.comparison.changes, data.comparison.ref, out_dir)
    speed = plot_speedups(data.figures, out_dir)
    if speed:
        data.plots.append(speed)
    links = {}
    if asv_html is not None and asv_html.exists():
        links["asv publish (HTML history of every benchmark)"] = asv_html.resolve().as_uri()
    commit = str(data.run.get("commit") or "unknown")[:10]
    title = f"Evaluation report - {commit} ({data.run.get('mode', 'unknown')} mode)"
    md = markdown(sections(data, workloads, links), title)
    files = {
        "report.json": json.dumps(report_json(data, workloads, links), indent=2, allow_nan=False),
        "report.md": md,
        "report.html": to_html(md, title),
    }
    written = []
    for name, text in files.items():
        (out_dir / name).write_text(text, encoding="utf-8")
        written.append(out_dir / name)
    data.bench.to_csv(out_dir / "results.csv", index=False)
    written.append(out_dir / "results.csv")
    return written + data.plots
