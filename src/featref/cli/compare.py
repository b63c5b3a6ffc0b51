"""``featref compare``: paired comparison of two finished runs on the same folds and seeds."""

from __future__ import annotations

import argparse
from pathlib import Path

DESCRIPTION = """\
Paired comparison of RUN against REFERENCE (both folders written by `featref run` or `grid` on
the same samples and seeds): the per-seed difference of pooled UF1/UAR, a sign test over seeds,
and a paired bootstrap over subjects (both runs scored on the same resampled subjects) with its
95% interval and the fraction of resamples in which RUN is better.
"""


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    from featref.cli import HelpFormatter

    p = sub.add_parser(
        "compare",
        parents=[common],
        help="paired comparison of two runs (per-seed differences, subject bootstrap)",
        description=DESCRIPTION,
        formatter_class=HelpFormatter,
    )
    p.add_argument("run", type=Path, help="run folder to assess")
    p.add_argument("reference", type=Path, help="run folder to compare against")
    p.add_argument("--resamples", type=int, default=10_000, help="bootstrap resamples")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    import json

    from featref.errors import CacheError, DatasetNotFoundError
    from featref.evaluation.compare import compare_predictions
    from featref.evaluation.predictions import read_predictions

    rows, names = [], []
    for folder in (args.run, args.reference):
        pred, metrics = folder / "predictions.csv", folder / "metrics.json"
        if not (pred.is_file() and metrics.is_file()):
            raise DatasetNotFoundError(
                f"{folder.resolve()} has no predictions.csv and metrics.json; give a finished run."
            )
        try:
            classes = json.loads(metrics.read_text(encoding="utf-8"))["class_names"]
        except (ValueError, KeyError, TypeError) as exc:
            raise CacheError(
                f"{metrics} is not a featref metrics.json with class_names ({exc}); rerun the "
                "run to rewrite it."
            ) from None
        rows.append(read_predictions(pred, classes))
        names.append(classes)
    print(f"{args.run} vs {args.reference} (difference = run - reference)")
    for metric in ("uf1", "uar"):
        c = compare_predictions(
            rows[0], rows[1], labels=names[1], metric=metric, n_resamples=args.resamples
        )
        b = c.bootstrap
        seeds = ", ".join(f"{s}: {d:+.4f}" for s, d in c.per_seed.items())
        print(
            f"{metric.upper()}: mean {c.mean_difference:+.4f} (per seed {seeds}); sign test "
            f"{c.sign.wins}/{c.sign.losses}/{c.sign.ties} p={c.sign.p_value:.3f}; subject "
            f"bootstrap {b.confidence:.0%} [{b.low:+.4f}, {b.high:+.4f}], "
            f"P(diff > 0) = {b.frac_positive:.3f} over {b.n_subjects} subjects"
        )
    return 0
