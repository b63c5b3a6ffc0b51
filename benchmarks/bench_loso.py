"""Benchmark: featref's leave-one-subject-out runner vs a straightforward per-fold PyTorch loop.

Both train the same model with the same recipe (epochs, batch size, AdamW, cosine LR) on the same
folds of the same data, in one invocation of this script, and report wall time per fold and the
ratio. The straightforward approach is what one writes first: one process, PyTorch's default
thread count, NCHW tensors, a ``DataLoader`` over a ``TensorDataset`` with ``shuffle=True``,
``torch.optim.AdamW`` without the fused kernel, folds one after another.

featref's runner: worker processes (one per core), one thread each, channels-last tensors, fused
AdamW, index-based batching (``featref.evaluation.runner.run_loso``).

Usage (the MEGC2019 composite; ``--folds 68`` times the full run)::

    python benchmarks/bench_loso.py --data megc2019 --data-dir ../shared/data/megc2019 --folds 8
    python benchmarks/bench_loso.py                 # embedded synthetic data, all 12 folds
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from featref.config import DataConfig, ExperimentConfig, ModelConfig, TrainConfig
from featref.evaluation.executors import EXECUTORS, WorkItem
from featref.evaluation.metrics import accuracy, uf1
from featref.evaluation.protocols import LeaveOneSubjectOut
from featref.evaluation.run_folder import config_hash
from featref.evaluation.units import Unit, UnitJob
from featref.preprocess.sources import load_flows
from featref.training.fit import build_model
from featref.training.losses import class_weights, model_loss, output_logits


def straightforward_fold(flows, fold, cfg: ExperimentConfig, seed: int) -> np.ndarray:
    """One fold the plain way; returns the predicted classes of the test subject."""
    index = {s: i for i, s in enumerate(flows.sample_ids)}
    train = [index[s] for s in fold.train_ids]
    test = [index[s] for s in fold.test_ids]
    torch.manual_seed(seed)
    model = build_model(cfg.model, num_classes=3, in_channels=len(flows.channels))
    x = torch.as_tensor(flows.x[train])
    y = torch.as_tensor(flows.labels[train])
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(x, y), batch_size=cfg.train.batch_size, shuffle=True
    )
    opt = torch.optim.AdamW(
        model.parameters(), lr=cfg.train.lr, weight_decay=cfg.train.weight_decay
    )
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, cfg.train.epochs * len(loader))
    weight = class_weights(y, 3)
    lam = cfg.train.proposal_weight
    model.train()
    for _ in range(cfg.train.epochs):
        for xb, yb in loader:
            loss = model_loss(model(xb), yb, class_weight=weight, proposal_weight=lam)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    model.eval()
    with torch.no_grad():
        out = model(torch.as_tensor(flows.x[test]))
    logits = output_logits(out)
    return logits.argmax(1).numpy()


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--data", type=str, default="synthetic", help="synthetic | megc2019")
    p.add_argument("--data-dir", type=str, default=None, help="data folder for megc2019")
    p.add_argument("--model", type=str, default="featref", help="model name")
    p.add_argument("--folds", type=int, default=0, help="time the first N folds (0 = all)")
    p.add_argument("--epochs", type=int, default=TrainConfig().epochs, help="epochs per fold")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="featref workers")
    args = p.parse_args()

    cfg = ExperimentConfig(
        data=DataConfig(source=args.data, data_dir=args.data_dir),
        model=ModelConfig(args.model),
        train=TrainConfig(epochs=args.epochs, seeds=(0,)),
    )
    flows = load_flows(cfg.data)
    folds = list(LeaveOneSubjectOut().split(flows.sample_ids, flows.subjects))
    n = args.folds or len(folds)
    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch "
        f"{torch.__version__}; {args.model} on {args.data}: {n} of {len(folds)} folds, "
        f"{args.epochs} epochs"
    )

    t0 = time.perf_counter()
    preds_plain, truth, ids = [], [], []
    for fold in folds[:n]:
        preds_plain += straightforward_fold(flows, fold, cfg, seed=fold.index).tolist()
        truth += [int(flows.labels[flows.sample_ids.index(s)]) for s in fold.test_ids]
        ids += list(fold.test_ids)
    plain = time.perf_counter() - t0

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        by_id = _runner_folds(flows, cfg, Path(tmp), folds[:n], args.workers)
        preds_fast = [by_id[i] for i in ids]
        fast = time.perf_counter() - t0

    labels = [0, 1, 2]
    # Both train the same model with the same recipe but different random streams, so their
    # predictions differ sample by sample while their scores should be comparable.
    print(f"{'approach':34s} {'wall s':>8s} {'s/fold':>8s} {'UF1':>7s} {'acc':>7s}")
    print(
        f"{'straightforward per-fold loop':34s} {plain:8.1f} {plain / n:8.2f} "
        f"{uf1(truth, preds_plain, labels=labels):7.3f} {accuracy(truth, preds_plain):7.3f}"
    )
    print(
        f"{'featref runner (' + str(args.workers) + ' workers)':34s} {fast:8.1f} {fast / n:8.2f} "
        f"{uf1(truth, preds_fast, labels=labels):7.3f} {accuracy(truth, preds_fast):7.3f}"
    )
    agree = sum(a == b for a, b in zip(preds_plain, preds_fast)) / len(ids)
    print(f"the two approaches agree on {agree:.0%} of the {len(ids)} test predictions")
    print(
        f"speed-up: {plain / fast:.2f}x; full {len(folds)}-fold run at this rate: "
        f"featref {fast / n * len(folds) / 60:.1f} min, straightforward "
        f"{plain / n * len(folds) / 60:.1f} min"
    )


def _runner_folds(flows, cfg, out: Path, folds, workers: int) -> dict[str, int]:
    """featref's runner on exactly these folds (the units ``run_loso`` would compute).

    Returns:
        The predicted class index of every test sample, by sample id.
    """
    job = UnitJob(flows, cfg, config_hash(cfg, flows))
    work = [WorkItem(0, job, Unit(0, f)) for f in folds]
    names = list(flows.class_names)
    pred = {}
    for _, rec in EXECUTORS["pool"](work, workers=workers, threads=1):
        pred.update({r["sample_id"]: names.index(r["y_pred"]) for r in rec["rows"]})
    return pred


if __name__ == "__main__":
    main()
