"""``featref list-protocols``: the shipped protocol presets, one line each."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add the ``list-protocols`` subcommand."""
    from featref.cli import HelpFormatter

    p = sub.add_parser(
        "list-protocols",
        parents=[common],
        help="list the evaluation protocols (single- and cross-database presets)",
        description=(
            "List the shipped protocol presets: name, data, metrics and what each trains and\n"
            "tests on. Run one with: featref run --config <name> [--data-dir ...].\n"
            "docs/protocols.md describes each."
        ),
        formatter_class=HelpFormatter,
    )
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from featref.evaluation.protocols import PROTOCOL_PRESETS

    width = max(len(n) for n in PROTOCOL_PRESETS)
    print(f"{'name':{width}s}  {'data':22s}  {'metrics':28s}  protocol")
    for name, p in PROTOCOL_PRESETS.items():
        data = "composite flow" if p.label_scheme is None else f"prepared {p.label_scheme}"
        print(f"{name:{width}s}  {data:22s}  {','.join(p.metrics):28s}  {p.title}")
    return 0
