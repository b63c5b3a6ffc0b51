"""Training: all folds of a run at once, as one vectorised ensemble.

Leave-one-subject-out trains one small model per subject (68 on the MEGC2019 composite). Trained
one after another, such tiny models leave a CPU mostly idle in framework overhead. Here the folds'
parameters are stacked and one step of ``torch.func.vmap`` advances every fold's model on its own
mini-batch, drawn from its own training set: the folds stay independent (separate weights,
initialisation, batch order and optimiser state; AdamW is element-wise) while the work is done in
large kernels.

Honesty is structural: :func:`train_folds` receives only each fold's *training* indices; the
caller predicts on test subjects after it returns. There is no early stopping on test data; the
model of the last epoch is used (fixed schedule).
"""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from featref.config import TrainConfig
from featref.training.losses import class_weights, model_loss

__all__ = ["fold_seed", "predict", "set_threads", "train_folds", "unstack_states"]

log = logging.getLogger(__name__)


def fold_seed(seed: int, fold_index: int) -> int:
    """The seed of one fold's model and batch order, derived from ``(seed, fold_index)``."""
    return int(np.random.SeedSequence([seed, fold_index]).generate_state(1)[0])


def set_threads(threads: int) -> None:
    """Use ``threads`` threads in torch and OpenCV (1 is fastest on a busy 2-core machine)."""
    torch.set_num_threads(threads)
    try:
        import cv2

        cv2.setNumThreads(threads)
    except ImportError:  # OpenCV is only needed for preprocessing
        pass


def _batch_order(rng: np.random.Generator, train: np.ndarray, length: int) -> np.ndarray:
    """Shuffled passes over ``train``, concatenated and cut to ``length`` indices."""
    reps = math.ceil(length / len(train))
    return np.concatenate([rng.permutation(train) for _ in range(reps)])[:length]


def train_folds(
    model_factory: Callable[[], nn.Module],
    x: torch.Tensor,
    y: torch.Tensor,
    train_sets: Sequence[np.ndarray],
    fold_indices: Sequence[int],
    cfg: TrainConfig,
    *,
    seed: int,
    num_classes: int,
    on_epoch: Callable[[dict], None] | None = None,
) -> list[dict[str, torch.Tensor]]:
    """Train one model per fold, all folds in one vectorised ensemble.

    Args:
        model_factory: Builds a fresh model; called once per fold after seeding.
        x: Inputs of the training pool (N, C, H, W) on the training device.
        y: Class indices (N,).
        train_sets: For each fold, the indices into ``x`` it may train on (its training subjects).
        fold_indices: Each fold's index in the protocol, for its seed.
        cfg: The training recipe (epochs, batch size, lr, ...).
        seed: The run's seed; fold *i* uses :func:`fold_seed` ``(seed, i)``.
        num_classes: Number of classes.
        on_epoch: Called after each epoch with ``{"epoch", "lr", "loss"}`` (mean over folds)
            and ``"fold_loss"`` (one value per fold).

    Returns:
        One ``state_dict`` per fold, in the order of ``train_sets``.
    """
    n_folds = len(train_sets)
    device = x.device
    models, rngs = [], []
    for fi in fold_indices:
        s = fold_seed(seed, fi)
        torch.manual_seed(s)
        models.append(model_factory().to(device))
        rngs.append(np.random.default_rng(s))
    base = copy.deepcopy(models[0]).to("meta")
    base.train()
    params, buffers = stack_module_state(models)
    params = {k: v.detach().requires_grad_(True) for k, v in params.items()}
    proposal_weight = float(getattr(models[0], "proposal_weight", 0.0))
    del models

    if cfg.class_weighting:
        weights = torch.stack([class_weights(y[torch.as_tensor(t)], num_classes) for t in train_sets])
    else:
        weights = torch.ones(n_folds, num_classes)
    weights = weights.to(device)

    def fold_loss(p, b, xb, yb, w):
        return model_loss(
            functional_call(base, (p, b), (xb,)), yb, class_weight=w, proposal_weight=proposal_weight
        )

    step_all = vmap(fold_loss, randomness="different")
    opt = torch.optim.AdamW(params.values(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = math.ceil(max(len(t) for t in train_sets) / cfg.batch_size)
    total = steps_per_epoch * cfg.epochs
    step = 0
    for epoch in range(cfg.epochs):
        # Each fold gets its own shuffled pass over its own training set.
        order = np.stack(
            [_batch_order(r, np.asarray(t), steps_per_epoch * cfg.batch_size) for r, t in zip(rngs, train_sets)]
        )
        order = torch.as_tensor(order, device=device)  # (F, steps * B)
        epoch_loss = torch.zeros(n_folds, device=device)
        for s in range(steps_per_epoch):
            # set LR (cosine over the whole schedule, or constant)
            lr = cfg.lr
            if cfg.lr_schedule == "cosine":
                lr = 0.5 * cfg.lr * (1 + math.cos(math.pi * step / total))
            for g in opt.param_groups:
                g["lr"] = lr
            # one step of every fold on its own mini-batch
            idx = order[:, s * cfg.batch_size : (s + 1) * cfg.batch_size]  # (F, B)
            losses = step_all(params, buffers, x[idx], y[idx], weights)  # (F,)
            opt.zero_grad(set_to_none=True)
            losses.sum().backward()  # folds are independent: d(sum)/d(theta_f) = d(loss_f)/d(theta_f)
            opt.step()
            epoch_loss += losses.detach()
            step += 1
        # log
        fold_mean = (epoch_loss / steps_per_epoch).cpu()
        if on_epoch is not None:
            on_epoch(
                {
                    "epoch": epoch + 1,
                    "lr": lr,
                    "loss": float(fold_mean.mean()),
                    "fold_loss": [round(float(v), 5) for v in fold_mean],
                }
            )
    return unstack_states({k: v.detach() for k, v in params.items()}, buffers, n_folds)


def unstack_states(
    params: dict[str, torch.Tensor], buffers: dict[str, torch.Tensor], n: int
) -> list[dict[str, torch.Tensor]]:
    """Split stacked ensemble tensors back into ``n`` ordinary state dicts."""
    merged = {**params, **buffers}
    return [{k: v[i].clone() for k, v in merged.items()} for i in range(n)]


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Class probabilities (N, K) and attention factors (N, K, or N x 0) of ``x``."""
    model.eval()
    probs, atts = [], []
    for i in range(0, len(x), batch_size):
        out = model(x[i : i + batch_size])
        logits = out.logits if hasattr(out, "logits") else out
        probs.append(torch.softmax(logits, -1).cpu())
        att = out.attention if hasattr(out, "attention") else logits.new_zeros(len(logits), 0)
        atts.append(att.cpu())
    return torch.cat(probs).numpy(), torch.cat(atts).numpy()
