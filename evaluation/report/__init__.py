"""The comparison report: load the raw inputs, compute the tables, write the folder.

- :mod:`.load` - :func:`build_report`: raw inputs -> :class:`ReportData` (figures, then
  verdicts, then the summary).
- :mod:`.summary`, :mod:`.tables`, :mod:`.notes`, :mod:`.reliability`,
  :mod:`.candidates` - the tables and paragraphs as shown.
- :mod:`.sections` - the report's content, titled sections in order.
- :mod:`.render` - :func:`write_report`: Markdown, HTML (from the Markdown), JSON, CSV,
  plots (:mod:`.plots`); :mod:`.export` makes ``report.json``.
- :mod:`.terminal` - the one-screen summary ``python -m evaluation`` prints.
"""
from .load import RAW_DIR, ReportData, build_report
from .render import REPORT_FILES, write_report

__all__ = ["build_report", "write_report", "ReportData", "RAW_DIR", "REPORT_FILES"]
