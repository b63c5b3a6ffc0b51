"""``featref train``: train one model on every subject and save it as a checkpoint."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["register"]

DESCRIPTION = """\
Train one model on ALL subjects of the data (no held-out subject: use `featref run` to measure
how well a recipe generalises) and save it as one checkpoint file for `featref predict`.

The options are those of `featref run`, with one seed (the first of --seeds or of the config).
The checkpoint carries the model name, its card and keyword arguments, the weights, the class
names, the input channels and size, the full preprocessing settings of the training data (data
made by `featref prepare`; for the published MEGC2019 flow images their per-image min-max
normalisation), the resolved training config and the featref version. It loads with
torch.load(..., weights_only=True): it holds only tensors and plain Python values.

Examples:
  featref prepare casme2 --data-dir ../shared/data/casme2 --apex annotated
  featref train --data prepared --data-dir <the folder prepare printed> --output fr.pt
  featref train --data megc2019 --data-dir ../shared/data/megc2019 --epochs 12 --output fr.pt
  featref predict --checkpoint fr.pt path/to/clip_frames/
"""


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add the ``train`` subcommand."""
    from featref.cli import HelpFormatter
    from featref.cli.options import add_experiment_args

    p = sub.add_parser(
        "train",
        parents=[common],
        help="train one model on all subjects and save a checkpoint for predict",
        description=DESCRIPTION,
        formatter_class=HelpFormatter,
    )
    add_experiment_args(p)
    p.add_argument(
        "--output",
        type=Path,
        default=None,
        help="checkpoint file to write (default: checkpoints/<data>-<model>-seed<S>.pt)",
    )
    p.set_defaults(func=main)


def _check_args(args: argparse.Namespace) -> None:
    from featref.errors import ConfigError

    if args.workers is not None:
        raise ConfigError(
            "--workers does not apply to `featref train` (one model is trained in this "
            "process); use --threads for its torch threads."
        )
    if getattr(args, "backend", "local") != "local" or getattr(args, "ray_address", None):
        raise ConfigError(
            "--backend ray does not apply to `featref train` (one model, one process)."
        )
    if args.seeds and len([s for s in args.seeds.split(",") if s.strip()]) != 1:
        raise ConfigError(
            f"`featref train` trains one model: give one seed (e.g. --seeds 0). Got "
            f"--seeds {args.seeds}."
        )


def _data_info(cfg, flows) -> tuple[dict, dict | None, str, bool]:
    """Where the data came from, its preprocessing settings, normalisation and 8-bit flag."""
    from collections import Counter

    from featref.preprocess.cache import prepared_config

    counts = Counter(flows.class_names[int(i)] for i in flows.labels)
    info = {
        "source": cfg.data.source,
        "data_dir": None if cfg.data.data_dir is None else str(Path(cfg.data.data_dir).resolve()),
        "num_samples": len(flows),
        "num_subjects": len(set(flows.subjects)),
        "databases": sorted(set(flows.datasets)),
        "class_counts": {n: int(counts.get(n, 0)) for n in flows.class_names},
    }
    if cfg.data.source == "prepared":
        pre = prepared_config(cfg.data.data_dir)
        info["preprocess_config_hash"] = pre.config_hash()
        return info, pre.to_dict(), pre.normalisation, False
    # Published MEGC2019 images: TV-L1 u, v, strain, min-max per image and channel, 8-bit PNG.
    # The synthetic default is stored as floats in [0, 1].
    return info, None, "minmax", cfg.data.source == "megc2019"


def main(args: argparse.Namespace) -> int:
    """Handler of ``featref train``."""
    import dataclasses

    from featref.cli.options import experiment_config
    from featref.config import resolved_config
    from featref.errors import ConfigError
    from featref.preprocess.sources import load_flows
    from featref.training.checkpoint import Checkpoint, save_checkpoint
    from featref.training.fit import fit
    from featref.training.loop import check_device, fold_seed, set_threads

    _check_args(args)
    cfg = experiment_config(args)
    if cfg.select.grid:
        raise ConfigError(
            "--select / [select] (nested selection) applies to `featref run` and `featref grid`, "
            "not to `featref train`; give the chosen values with --lr, --epochs or --model-arg."
        )
    seed = cfg.train.seeds[0]
    cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, seeds=(seed,)))
    check_device(cfg.train.device)
    flows = load_flows(cfg.data)
    info, preprocess, normalisation, uint8_levels = _data_info(cfg, flows)
    out = args.output or Path("checkpoints") / f"{cfg.data.source}-{cfg.model.name}-seed{seed}.pt"
    names = flows.class_names
    print(
        f"featref train: {cfg.model.name} on {cfg.data.source} ({len(flows)} samples, "
        f"{info['num_subjects']} subjects, all used; classes {','.join(names)}; channels "
        f"{','.join(flows.channels)}), seed {seed}, {cfg.train.epochs} epochs -> {out}",
        flush=True,
    )
    progress = sys.stderr.isatty() if args.progress is None else args.progress
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=cfg.train.epochs, desc="epochs", unit="epoch", file=sys.stderr)
    history: list[dict] = []

    def on_epoch(rec: dict) -> None:
        history.append(rec)
        if bar is not None:
            bar.set_postfix_str(f"loss {rec['loss']:.4f} acc {rec['accuracy']:.3f}")
            bar.update(1)

    set_threads(cfg.train.threads)
    # the one fit recipe (as a run's unit), on every subject, seeded as fold 0 of `seed`
    model = fit(
        cfg,
        flows.x,
        flows.labels,
        seed=fold_seed(seed, 0),
        num_classes=len(names),
        on_epoch=on_epoch,
    )
    if bar is not None:
        bar.close()
    checkpoint = Checkpoint.from_model(
        model,
        model_name=cfg.model.name,
        model_kwargs=cfg.model.kwargs,
        class_names=names,
        channels=flows.channels,
        input_size=flows.x.shape[1:],
        preprocess=preprocess,
        normalisation=normalisation,
        uint8_levels=uint8_levels,
        train_config=resolved_config(cfg),
        seed=seed,
        data=info,
        history=history,
    )
    path = save_checkpoint(checkpoint, out)
    last = history[-1]
    print(
        f"last epoch: training loss {last['loss']:.4f}, training accuracy {last['accuracy']:.3f} "
        "(on the training data itself: not an estimate of accuracy on new subjects)"
    )
    print(f"checkpoint: {path}")
    return 0
