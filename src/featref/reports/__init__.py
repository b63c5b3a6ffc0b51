"""Reports: tables (CSV/Markdown), figures (PNG/PDF) and a self-contained HTML page of run outputs.

Reports only read a run folder's outputs and write files; they never train and never read raw
data. Entry point: :func:`build_report` (``featref report RUN_DIR ...`` on the command line).
"""

from __future__ import annotations

from featref.reports.build import ReportFiles, build_report
from featref.reports.runs import RunOutputs, load_run

__all__ = ["ReportFiles", "RunOutputs", "build_report", "load_run"]
