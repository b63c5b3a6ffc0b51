"""The randomness and schedule of a training recipe, shared by the per-fold and fold-batched paths.

Both :func:`featref.training.loop.train_one_fold` (one model) and
:func:`featref.training.ensemble.train_ensemble` (many (seed, fold) models at once) draw every
model's batch order, flips and mixup partners here, from that model's own NumPy generator, in the
same order; and both read the learning rate of a step here. So the two paths
train the same model on the same batches by construction. Dropout masks come from torch's
generator, seeded per model in both paths (see :mod:`featref.training.ensemble`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from featref.config import TrainConfig

__all__ = [
    "Batch",
    "apply_batch_augmentation",
    "autocast",
    "epoch_batches",
    "lr_at",
    "mirror_negated",
    "steps_per_epoch",
]


@dataclass(frozen=True)
class Batch:
    """One mini-batch of one model, as positions into that model's *training* samples."""

    index: np.ndarray  # (b,) positions into the fold's training samples
    flip: np.ndarray | None  # (b,) bool: mirror this sample (None: flip augmentation off)
    mix_perm: np.ndarray | None  # (b,) mixup partner of each sample, within the batch (None: off)
    mix_lam: float = 1.0  # mixup weight of the sample itself (1.0: no mixing)


def autocast(cfg: TrainConfig, device: torch.device) -> torch.autocast:
    """The training forward pass's arithmetic, ``[train] precision``: a bfloat16 autocast region
    for ``"bf16"`` (convolutions and matrix products in bf16, fp32 weights), a no-op for ``"fp32"``.

    Only the forward pass goes inside: the loss is computed from fp32 outputs
    (:func:`featref.training.losses.model_loss` casts them), the backward pass follows the
    forward's dtypes, and the optimiser, weight averaging and prediction stay fp32.
    """
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=cfg.precision == "bf16")


def steps_per_epoch(n: int, batch_size: int) -> int:
    """Optimiser steps per epoch over ``n`` training samples (the last batch may be short)."""
    return math.ceil(n / batch_size)


def lr_at(cfg: TrainConfig, step: int, total: int) -> float:
    """The learning rate of optimiser step ``step`` (0-based) of ``total``: cosine or constant."""
    if cfg.lr_schedule == "cosine":
        return 0.5 * cfg.lr * (1 + math.cos(math.pi * step / total))
    return cfg.lr


def epoch_batches(rng: np.random.Generator, n: int, cfg: TrainConfig) -> list[Batch]:
    """One epoch's mini-batches of a model with ``n`` training samples, drawn from ``rng``.

    The draws happen in a fixed order (the permutation; then, if on, the flips of the epoch; then,
    per batch, the mixup weight and partners), so a recipe with the augmentations off consumes
    the generator exactly as featref 0.1 did and keeps its results.
    """
    order = rng.permutation(n)
    flips = rng.random(n) < 0.5 if cfg.flip else None
    batches = []
    for s in range(steps_per_epoch(n, cfg.batch_size)):
        sl = slice(s * cfg.batch_size, (s + 1) * cfg.batch_size)
        idx = order[sl]
        perm, lam = None, 1.0
        if cfg.mixup > 0:
            lam = float(rng.beta(cfg.mixup, cfg.mixup))
            perm = rng.permutation(len(idx))
        batches.append(Batch(idx, None if flips is None else flips[sl], perm, lam))
    return batches


def apply_batch_augmentation(
    xb: torch.Tensor, flip: torch.Tensor | None, negate_channels: tuple[int, ...]
) -> torch.Tensor:
    """Mirror the flagged samples of ``xb`` (..., C, H, W) left-right, exactly.

    Mirroring a face mirrors every flow channel and reverses the horizontal flow: with u min-max
    scaled per image to [0, 1] (the MEGC2019 images: 255 - u in 8-bit), that is u -> 1 - u; v and
    the strain magnitude are only mirrored. ``negate_channels`` are the indices of u.
    """
    if flip is None:
        return xb
    mirrored = xb.flip(-1)
    if negate_channels:
        ch = list(negate_channels)
        mirrored = mirrored.clone()
        mirrored[..., ch, :, :] = 1 - mirrored[..., ch, :, :]
    mask = flip.view(*flip.shape, *([1] * (xb.ndim - flip.ndim)))
    return torch.where(mask, mirrored, xb)


def mirror_negated(channels: tuple[str, ...]) -> tuple[int, ...]:
    """Indices of the channels a horizontal flip maps x -> 1 - x: the horizontal flow u."""
    return tuple(i for i, c in enumerate(channels) if c == "u")
