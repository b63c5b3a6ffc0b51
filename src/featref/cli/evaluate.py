"""``featref evaluate``: pooled UF1/UAR of a predictions file or a MEGC2019 result log."""

from __future__ import annotations

import argparse
from pathlib import Path

DESCRIPTION = """\
Score predictions with the MEGC2019 metrics (UF1 and UAR on predictions pooled over all folds).

FILE is a featref predictions.csv (scored per seed, then mean ± std) or a MEGC2019 result log
(a line '<dataset> <subject>' before each subject, then '<clip> <truth> <prediction>').
"""


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    from featref.cli import HelpFormatter

    p = sub.add_parser(
        "evaluate",
        parents=[common],
        help="UF1/UAR of a predictions.csv or a MEGC2019 log",
        description=DESCRIPTION,
        formatter_class=HelpFormatter,
    )
    p.add_argument("file", type=Path, help="predictions.csv or MEGC2019 log file")
    p.add_argument(
        "--labels",
        type=str,
        default="0,1,2",
        help="comma-separated class labels of a MEGC log (every class of the task)",
    )
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from featref.cli.options import print_scores
    from featref.errors import DatasetNotFoundError
    from featref.evaluation.predictions import Prediction, read_megc_log, read_predictions

    path: Path = args.file
    if not path.is_file():
        raise DatasetNotFoundError(
            f"{path.resolve()} does not exist; give a predictions.csv or MEGC log."
        )
    with path.open("rb") as f:
        head = f.read(64).decode("utf-8", errors="replace").lstrip("\ufeff")
    if head.startswith("seed,"):
        rows = read_predictions(path)
        labels = _prob_classes(path) or sorted({r.y_true for r in rows} | {r.y_pred for r in rows})
    else:
        labels = [v.strip() for v in args.labels.split(",") if v.strip()]
        log = read_megc_log(path, labels)
        rows = [
            Prediction(0, 0, f"{d}/{s}/{c}", d, f"{d}/{s}", str(t), str(p)) for d, s, c, t, p in log
        ]
    print_scores(f"{path}", rows, labels)
    return 0


def _prob_classes(path: Path) -> list[str]:
    with path.open(encoding="utf-8-sig") as f:
        head = f.readline()
    return [c.strip()[5:] for c in head.strip().split(",") if c.strip().startswith("prob_")]
