"""``featref list-models``: the registered models and their cards."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    from featref.cli import HelpFormatter

    p = sub.add_parser(
        "list-models",
        parents=[common],
        help="list registered models",
        description="List registered models with their input, parameter count and paper.",
        formatter_class=HelpFormatter,
    )
    p.add_argument("pattern", nargs="?", type=str, default="*", help="shell-style name filter")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from featref.models import get_model_card, list_models

    names = list_models(args.pattern)
    print(f"{'name':16s} {'input':12s} {'channels':16s} {'params':>10s}  paper")
    for name in names:
        c = get_model_card(name)
        shape = "x".join(map(str, c.input_size))
        print(f"{name:16s} {shape:12s} {','.join(c.channels):16s} {c.param_count:>10,d}  {c.paper}")
    return 0
