"""``featref protocol-report``: single- and cross-database runs as one table and a UF1 matrix."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add the ``protocol-report`` subcommand."""
    from featref.cli import HelpFormatter

    p = sub.add_parser(
        "protocol-report",
        parents=[common],
        help="table and source x target UF1 matrix of single- and cross-database runs",
        description=(
            "Collect every finished run folder under RUNS (any depth) that ran one database\n"
            "alone (LOSO) or a cross-database protocol, and write protocols.md (UF1, UAR and\n"
            "accuracy on the target database, mean ± std over seeds), protocols.csv and\n"
            "protocols.png (one matrix per model: rows trained on, columns tested on; the\n"
            "diagonal is LOSO within the database). Composite runs are skipped."
        ),
        epilog=(
            "Example:\n"
            "  bash scripts/run_protocols.sh ../shared/data/megc2019 runs/protocols\n"
            "  featref protocol-report runs/protocols --output-dir docs/figures/protocols"
        ),
        formatter_class=HelpFormatter,
    )
    p.add_argument("runs", metavar="RUNS", help="folder holding the run folders")
    p.add_argument("--output-dir", required=True, help="where the table and figure go")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from featref.reports.protocols import write_protocol_report

    for path in write_protocol_report(args.runs, args.output_dir):
        print(path)
    return 0
