"""Training one leave-one-subject-out fold: a plain, nanoGPT-style loop.

Honesty is structural: :func:`train_one_fold` receives only the fold's *training* samples; the
caller predicts on the test subject after it returns. Model selection is a fixed schedule (the
model of the last epoch is used): no epoch, threshold or hyperparameter sees test data.

The batch order, augmentation draws and learning-rate schedule come from
:mod:`featref.training.recipe`, shared with the fold-batched path
(:mod:`featref.training.ensemble`), so both train a (seed, fold) model on the same batches.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from featref.config import TrainConfig
from featref.errors import ConfigError
from featref.models.base import MerModel
from featref.training.losses import class_weights, model_loss, output_logits
from featref.training.recipe import (
    apply_batch_augmentation,
    autocast,
    epoch_batches,
    lr_at,
    steps_per_epoch,
)

__all__ = [
    "EXTRA_OUTPUTS",
    "check_device",
    "fold_seed",
    "predict",
    "set_threads",
    "train_one_fold",
]

log = logging.getLogger(__name__)


def fold_seed(seed: int, fold_index: int) -> int:
    """The seed of one fold's initialisation, batch order and dropout, from ``(seed, fold)``."""
    return int(np.random.SeedSequence([seed, fold_index]).generate_state(1)[0])


def check_device(device: str) -> None:
    """Fail before any work starts when ``device`` is "cuda" and torch sees no CUDA device."""
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            "--device cuda (train.device) was asked for, but torch sees no CUDA device here. "
            "Use --device cpu, or a torch build with CUDA on a machine with a GPU."
        )


def set_threads(threads: int) -> None:
    """Use ``threads`` threads in torch and OpenCV (1 is fastest on a busy 2-core machine)."""
    torch.set_num_threads(threads)
    try:
        import cv2

        cv2.setNumThreads(threads)
    except ImportError:  # OpenCV is only needed for preprocessing
        pass


def train_one_fold(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    cfg: TrainConfig,
    *,
    seed: int,
    num_classes: int,
    negate_channels: tuple[int, ...] = (),
    on_epoch: Callable[[dict], None] | None = None,
) -> nn.Module:
    """Train ``model`` on one fold's training samples with a fixed schedule.

    Args:
        model: A freshly built model (its initialisation is the caller's, seeded).
        x: Training inputs (N, C, H, W), float32, on ``cfg.device``.
        y: Training class indices (N,).
        cfg: The recipe: epochs, batch size, AdamW lr and weight decay, cosine or constant LR,
            class weighting, the proposal loss weight (lambda; used when the model's output
            carries proposal logits) and the forward pass's precision.
        seed: Seeds the batch order and dropout (use :func:`fold_seed`).
        num_classes: Number of classes (for the class weights).
        negate_channels: Channels a horizontal flip maps u -> 1 - u (the u channel; see
            :func:`featref.training.recipe.apply_batch_augmentation`).
        on_epoch: Called after each epoch with ``{"epoch", "lr", "loss", "accuracy", "time_s"}``
            measured on the training batches.

    Returns:
        The trained model, in eval mode.
    """
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model.train()
    model = model.to(memory_format=torch.channels_last)
    x = x.contiguous(memory_format=torch.channels_last)
    weight = None
    if cfg.class_weighting:
        weight = class_weights(y, num_classes, cfg.class_weight_power).to(x.device)
    # fused AdamW: one kernel for all parameters (the optimiser step is a large share of a step)
    opt = torch.optim.AdamW(
        model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, fused=True
    )
    params = list(model.parameters())
    ema = [p.detach().clone() for p in params] if cfg.ema_decay > 0 else None
    n = len(x)
    total = steps_per_epoch(n, cfg.batch_size) * cfg.epochs
    step = 0
    for epoch in range(cfg.epochs):
        t0 = time.perf_counter()
        # running sums stay on the device: a host sync per step would stall a GPU every step
        loss_sum = torch.zeros((), dtype=torch.float64, device=x.device)
        correct = torch.zeros((), dtype=torch.int64, device=x.device)
        for batch in epoch_batches(rng, n, cfg):
            # set LR: cosine decay over the whole schedule, or constant
            lr = lr_at(cfg, step, total)
            for group in opt.param_groups:
                group["lr"] = lr
            # gather the batch, augment (flip, mixup), step
            idx = torch.as_tensor(batch.index, device=x.device)
            xb, yb = x[idx], y[idx]
            if batch.flip is not None:
                flip = torch.as_tensor(batch.flip, device=x.device)
                xb = apply_batch_augmentation(xb, flip, negate_channels)
            if batch.mix_perm is not None:
                perm = torch.as_tensor(batch.mix_perm, device=x.device)
                xb = batch.mix_lam * xb + (1 - batch.mix_lam) * xb[perm]
            with autocast(cfg, x.device):  # [train] precision (a no-op for fp32)
                out = model(xb.contiguous(memory_format=torch.channels_last))
            loss = model_loss(out, yb, class_weight=weight, proposal_weight=cfg.proposal_weight)
            if batch.mix_perm is not None:
                loss = batch.mix_lam * loss + (1 - batch.mix_lam) * model_loss(
                    out, yb[perm], class_weight=weight, proposal_weight=cfg.proposal_weight
                )
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            if ema is not None:  # weight averaging: predict with the EMA of the weights
                with torch.no_grad():
                    torch._foreach_lerp_(ema, [p.detach() for p in params], 1 - cfg.ema_decay)
            logits = output_logits(out)
            loss_sum += loss.detach() * len(idx)
            correct += (logits.detach().argmax(1) == yb).sum()
        # log (training batches only: there is no test data here)
        if on_epoch is not None:
            on_epoch(
                {
                    "epoch": epoch + 1,
                    "lr": lr,
                    "loss": round(loss_sum.item() / n, 5),
                    "accuracy": round(correct.item() / n, 4),
                    "time_s": round(time.perf_counter() - t0, 3),
                }
            )
    if ema is not None:
        with torch.no_grad():
            for p, e in zip(params, ema):
                p.copy_(e)
    return model.eval()


#: The extra outputs a unit record keeps (empty (N, 0) arrays for a model without them).
EXTRA_OUTPUTS: tuple[str, ...] = ("attention", "shared", "refined")


@torch.no_grad()
def predict(model: MerModel, x: torch.Tensor, batch_size: int = 256) -> dict[str, np.ndarray]:
    """Run a trained model on ``x`` through its declared interface.

    Calls ``model(x)`` for the class probabilities and ``model.extra_outputs(x)`` for the rest.

    Returns:
        ``{"probs": (N, K), "attention": (N, K) or (N, 0), "shared": (N, D), "refined": (N, E)}``;
        for FR ``shared`` is the globally average-pooled expression-shared feature and ``refined``
        the concatenated expression-specific features; (N, 0) where the model has no such output.
    """
    model.eval()
    parts: dict[str, list[torch.Tensor]] = {k: [] for k in ("probs", *EXTRA_OUTPUTS)}
    for i in range(0, len(x), batch_size):
        xb = x[i : i + batch_size].contiguous(memory_format=torch.channels_last)
        parts["probs"].append(torch.softmax(output_logits(model(xb)), -1))
        extra = model.extra_outputs(xb)
        for key in EXTRA_OUTPUTS:
            parts[key].append(extra[key] if key in extra else xb.new_zeros(len(xb), 0))
    return {k: torch.cat(v).float().cpu().numpy() for k, v in parts.items()}
