"""``featref report``: HTML/Markdown report, figures and tables of one or several runs."""

from __future__ import annotations

import argparse
from pathlib import Path

from featref.cli import HelpFormatter

DESCRIPTION = """\
Write a report of finished runs. It only reads each run folder's outputs
(predictions.csv, metrics.json, log.jsonl, config.json, optional features.npz) and writes:

  report.html   self-contained page (figures embedded; open it anywhere, offline)
  report.md     the same tables in Markdown, figures linked
  figures/      PNG and PDF: confusion matrices (counts, row-normalised; all data and
                per database), per-subject accuracy, learning curves, attention factors
                per class, t-SNE/PCA of expression-shared vs refined features
  tables/       CSV and Markdown of every number shown

Scores pool all leave-one-subject-out folds before averaging over classes; with several
seeds they are mean +- std over seeds, and confusion counts are summed over seeds.
With several RUN_DIRs the report starts with a comparison table and figure (UF1/UAR,
full set and per database) and puts each run's files under OUT/runs/<run>/.

examples:
  featref report runs/megc2019_featref
  featref report runs/fr runs/dual_inception --output-dir reports/fr_vs_di
"""


def register(subparsers, common: argparse.ArgumentParser) -> None:
    """Add the ``report`` subcommand."""
    p = subparsers.add_parser(
        "report",
        parents=[common],
        formatter_class=HelpFormatter,
        help="write an HTML report, figures and tables of one or several runs",
        description=DESCRIPTION,
    )
    p.add_argument(
        "run_dirs",
        nargs="+",
        type=Path,
        metavar="RUN_DIR",
        help="run folder(s) written by 'featref run'",
    )
    p.add_argument(
        "--output-dir",
        type=Path,
        default=None,
        metavar="OUT",
        help="where to write the report (default for one run: RUN_DIR/report; "
        "required for several runs)",
    )
    p.add_argument(
        "--pdf",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also save every figure as PDF (PNG is always written)",
    )
    p.set_defaults(func=_main)


def _main(args: argparse.Namespace) -> int:
    from featref.errors import ConfigError
    from featref.reports import build_report

    if len(args.run_dirs) > 1 and args.output_dir is None:
        raise ConfigError(
            f"{len(args.run_dirs)} run folders given but no --output-dir. Pass --output-dir OUT "
            "to say where the comparison report goes."
        )
    files = build_report(args.run_dirs, args.output_dir, pdf=args.pdf)
    print(f"report: {files.html}")
    print(f"markdown: {files.markdown}")
    print(
        f"{len(files.figures)} figure files and {len(files.tables)} table files under "
        f"{files.html.parent}"
    )
    for note in files.notes:
        print(f"note: {note}")
    return 0
