"""``featref evaluate-weights``: score a release's published per-fold weights (no training)."""

from __future__ import annotations

import argparse
from pathlib import Path

DESCRIPTION = """\
Predict every subject with the weights its own leave-one-subject-out fold was released with
(one file per test subject, e.g. STSTNet's STSTNet_Weights/sub01.pth, 006.pth, s01.pth), then
score the pooled predictions (UF1/UAR overall and per database). Nothing is trained or chosen:
the scores are the release's own. Files are loaded with torch.load(weights_only=True) and
load_state_dict(strict=True).

--encoding gives the release's input: 'featref' (channels as named, values in [0, 1]) or
'ststnet_release' (the STSTNet release reads the published images with cv2.imread and feeds
them unscaled: channels strain, v, u with values 0-255).

Outputs in --output-dir: predictions.csv and megc2019.txt (the MEGC2019 log format, comparable
line by line with a published log).

Example (the authors' STSTNet weights from their GitHub release):
  featref evaluate-weights --model ststnet --weights-dir STSTNet_Weights \\
      --encoding ststnet_release --data-dir ../shared/data/megc2019 \\
      --output-dir runs/ststnet_release
"""


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    from featref.cli import HelpFormatter
    from featref.config import DATA_SOURCES
    from featref.evaluation.fold_weights import INPUT_ENCODINGS

    p = sub.add_parser(
        "evaluate-weights",
        parents=[common],
        help="score published per-fold weights (one file per test subject)",
        description=DESCRIPTION,
        formatter_class=HelpFormatter,
    )
    p.add_argument("--model", type=str, required=True, help="registered model name")
    p.add_argument("--weights-dir", type=Path, required=True, help="folder of the weight files")
    p.add_argument(
        "--pattern",
        type=str,
        default="{subject}.pth",
        help="file name of a subject's weights; {subject} is the database's own id (sub01, "
        "006, s01), {database} its database",
    )
    p.add_argument(
        "--encoding",
        choices=sorted(INPUT_ENCODINGS),
        default="featref",
        help="input encoding the weights expect",
    )
    p.add_argument(
        "--data",
        choices=DATA_SOURCES,
        default="megc2019",
        help="data source",
    )
    p.add_argument(
        "--data-dir",
        type=str,
        default=None,
        help="data folder (default: $FEATREF_DATA_DIR/<data>)",
    )
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="device")
    p.add_argument("--output-dir", type=Path, required=True, help="folder for the outputs")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from featref.cli.options import print_scores
    from featref.config import DataConfig
    from featref.evaluation.fold_weights import predict_with_fold_weights
    from featref.evaluation.predictions import write_megc_log, write_predictions
    from featref.preprocess.sources import load_flows

    flows = load_flows(DataConfig(source=args.data, data_dir=args.data_dir))
    rows = predict_with_fold_weights(
        flows,
        args.model,
        args.weights_dir,
        pattern=args.pattern,
        encoding=args.encoding,
        device=args.device,
    )
    args.output_dir.mkdir(parents=True, exist_ok=True)
    names = list(flows.class_names)
    write_predictions(args.output_dir / "predictions.csv", rows, names)
    write_megc_log(args.output_dir / "megc2019.txt", rows, names)
    print_scores(f"{args.model} weights in {args.weights_dir}", rows, names)
    print(f"outputs: {args.output_dir / 'predictions.csv'}, {args.output_dir / 'megc2019.txt'}")
    return 0
