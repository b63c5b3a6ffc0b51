"""Fold-batched training: the models of many (seed, fold) units trained together as one ensemble.

Every parameter gets a leading model dimension (``torch.func.stack_module_state``) and one
vectorised forward (``torch.vmap`` over ``torch.func.functional_call``) runs all models' batches at
once; a vectorised AdamW keeps each model's optimiser state, step count and learning rate.

Honesty is structural, as in the per-fold path: each model's mini-batches are *gathered* from its
own training indices (``Member.train_index``), never masked or padded, so a test subject's samples
never pass through its fold's model during training. Models whose batches have equal length at a
step run in one vectorised call; a step where lengths differ (the short last batch of an epoch,
folds of different sizes) runs one call per length, and a model without a batch sits the step out.

Per model, everything the per-fold path (:func:`featref.training.loop.train_one_fold`) gives that
(seed, fold) is kept: its initial weights (the caller builds each model after seeding it as the
per-fold path does), its batch order, flips and mixup draws (:mod:`featref.training.recipe`, from
its own generator), its class weights, its optimiser state and its dropout masks. Each model's
``nn.Dropout`` layers draw from the model's own torch generator, seeded with its seed as the
per-fold path seeds torch's, with the operations torch's CPU dropout uses (``bernoulli_``, then
``div_``, on a tensor of the layer input's shape, strides and dtype), so on the CPU a model's masks
are the per-fold path's, bit for bit, whichever members train beside it. On CUDA they are
per-model too, but not the per-fold path's: torch's CUDA dropout is a fused kernel with its own
draws. Other random layers (``nn.Dropout2d`` and the like; no registered model has one) draw from
torch's generator under ``vmap``, seeded per ensemble from the members' seeds, so with them a
unit's result depends on which members were trained together; the run engine always trains the
same fixed chunks of units together (see :mod:`featref.evaluation.executors`).

Buffers (BatchNorm running statistics) are stacked like the parameters and updated per model.
"""

from __future__ import annotations

import copy
import logging
import time
import types
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, stack_module_state

from featref.config import TrainConfig
from featref.models.base import MerModel
from featref.training.losses import class_weights, model_loss, output_logits
from featref.training.recipe import (
    apply_batch_augmentation,
    autocast,
    epoch_batches,
    lr_at,
    steps_per_epoch,
)

__all__ = ["Member", "train_ensemble"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Member:
    """One model of the ensemble: its seed and the indices of its training samples."""

    seed: int  # the fold seed (batch order and augmentation draws; the caller seeded init with it)
    train_index: np.ndarray  # indices into the ensemble's inputs: this model's training samples


class _StackedAdamW:
    """AdamW over parameters with a leading model dimension; per-model LR and step count.

    The update is torch's AdamW (decoupled weight decay, bias-corrected moments), written out so
    that each model has its own learning rate and a model can sit a step out (``active``).
    """

    def __init__(self, params: list[torch.Tensor], *, weight_decay: float) -> None:
        self.params = params
        self.wd = weight_decay
        self.b1, self.b2, self.eps = 0.9, 0.999, 1e-8
        self.m = [torch.zeros_like(p) for p in params]
        self.v = [torch.zeros_like(p) for p in params]
        n = params[0].shape[0]
        self.t = torch.zeros(n, dtype=torch.float64, device=params[0].device)

    @torch.no_grad()
    def step(self, lr: torch.Tensor, active: torch.Tensor) -> None:
        """One step: ``lr`` (M,) float64, ``active`` (M,) bool."""
        self.t += active.to(self.t.dtype)
        t = self.t.clamp_min(1)
        bc1 = 1 - self.b1**t
        bc2_sqrt = torch.sqrt(1 - self.b2**t)
        lr_eff = torch.where(active, lr, torch.zeros_like(lr))
        decay = (1 - lr_eff * self.wd).float()
        step_size = (lr_eff / bc1).float()
        a = active.float()
        for p, m, v in zip(self.params, self.m, self.v):
            shape = (-1,) + (1,) * (p.ndim - 1)
            g = p.grad
            am = a.view(shape)
            p.mul_(decay.view(shape))
            m.lerp_(g, am * (1 - self.b1))
            v.mul_(1 - am * (1 - self.b2)).addcmul_(g * am, g, value=1 - self.b2)
            denom = (v.sqrt() / bc2_sqrt.float().view(shape)).add_(self.eps)
            p.addcdiv_(m * step_size.view(shape), denom, value=-1.0)


class _MemberDropout:
    """Each model's ``nn.Dropout`` masks, drawn as the per-fold path draws them (module docstring).

    ``base`` is the ensemble's private meta copy that runs under ``vmap``: its dropout layers are
    re-bound to multiply by the masks handed to :meth:`bind` for the call. ``probe`` (a private
    copy of one model, laid out as the per-fold path lays it out) runs once per batch length to
    record what the per-fold path's dropout calls would see: their input's shape, strides and
    dtype, and the layer's probability.
    """

    def __init__(self, base: nn.Module, probe: nn.Module, members: Sequence[Member], device):
        self.device = device
        self.gens = [torch.Generator(device=device).manual_seed(m.seed) for m in members]
        self.probe = probe.to(device=device, memory_format=torch.channels_last).train()
        self.specs: dict[int, list[tuple]] = {}  # batch length -> dropout calls, in order
        self.queue: list[torch.Tensor] | None = None
        self.recording: list[tuple] | None = None
        for module in (*base.modules(), *self.probe.modules()):
            if isinstance(module, nn.Dropout):
                module.forward = types.MethodType(self._forward, module)

    def _forward(self, layer: nn.Dropout, x: torch.Tensor) -> torch.Tensor:
        # torch's CPU dropout: identity at p = 0 or in eval mode, x * 0 at p = 1 (no draw),
        # else x * noise with noise = bernoulli(1 - p) / (1 - p)
        if not layer.training or layer.p == 0:
            return x
        if layer.p == 1:
            return x * 0
        if self.recording is not None:
            self.recording.append((tuple(x.shape), x.stride(), x.dtype, layer.p))
            return x
        if not self.queue:  # the model's dropout calls depend on more than the batch length
            raise RuntimeError(f"{type(layer).__name__}: a dropout call the probe did not see")
        return x * self.queue.pop(0)

    def _calls(self, length: int, sample_shape: tuple[int, ...], cfg: TrainConfig) -> list[tuple]:
        if length not in self.specs:
            x = torch.zeros((length, *sample_shape), device=self.device)
            self.recording = []
            with torch.no_grad(), autocast(cfg, self.device):
                self.probe(x.contiguous(memory_format=torch.channels_last))
            self.specs[length], self.recording = self.recording, None
        return self.specs[length]

    def masks(
        self, models: Sequence[int], length: int, sample_shape: tuple[int, ...], cfg: TrainConfig
    ) -> tuple[torch.Tensor, ...]:
        """The next masks of ``models`` for one step: one (G, *input shape) tensor per call."""
        out = []
        for shape, stride, dtype, p in self._calls(length, sample_shape, cfg):
            draws = [
                torch.empty_strided(shape, stride, dtype=dtype, device=self.device)
                .bernoulli_(1 - p, generator=self.gens[m])
                .div_(1 - p)
                for m in models
            ]
            out.append(torch.stack(draws))
        return tuple(out)

    def bind(self, masks: tuple[torch.Tensor, ...]) -> None:
        """Hand the next vectorised call its masks (per-model slices under ``vmap``)."""
        self.queue = list(masks)


def _ensemble_loss(
    out,
    y: torch.Tensor,
    y_mix: torch.Tensor | None,
    lam: torch.Tensor | None,
    class_weight: torch.Tensor | None,
    proposal_weight: float,
) -> torch.Tensor:
    """Each model's loss (G,): the per-fold :func:`~featref.training.losses.model_loss` itself,
    vectorised over the models (with mixup as the per-fold loop mixes it)."""

    def one(o, target, weight):
        return model_loss(o, target, class_weight=weight, proposal_weight=proposal_weight)

    per_model = torch.vmap(one, in_dims=(0, 0, None if class_weight is None else 0))
    loss = per_model(out, y, class_weight)
    if y_mix is not None:
        loss = lam * loss + (1 - lam) * per_model(out, y_mix, class_weight)
    return loss


def train_ensemble(
    models: Sequence[MerModel],
    x: torch.Tensor,
    y: torch.Tensor,
    members: Sequence[Member],
    cfg: TrainConfig,
    *,
    num_classes: int,
    negate_channels: tuple[int, ...] = (),
    on_epoch: Callable[[int, dict], None] | None = None,
) -> list[MerModel]:
    """Train ``models[i]`` on ``x[members[i].train_index]``, all at once.

    Args:
        models: Freshly built models of one architecture (each seeded by the caller as the
            per-fold path seeds it); they receive the trained weights in place.
        x: Inputs of all samples any member trains on (N, C, H, W), float32, on the device.
        y: Class indices (N,).
        members: One per model: its seed and its training indices into ``x``.
        cfg: The recipe (as :func:`featref.training.loop.train_one_fold`).
        num_classes: Number of classes (for the class weights).
        negate_channels: Channels a horizontal flip maps u -> 1 - u (the u channel).
        on_epoch: Called after each epoch with the member's position and its epoch record
            (``{"epoch", "lr", "loss", "accuracy", "time_s"}``, on its training batches).

    Returns:
        The models, trained (the EMA of their weights when ``cfg.ema_decay`` > 0), in eval mode.
    """
    if len(models) != len(members) or not models:
        raise ValueError(f"{len(models)} models for {len(members)} members.")
    device = x.device
    n_models, bs = len(models), cfg.batch_size
    for model in models:
        model.train()
    stacked, stacked_buffers = stack_module_state(list(models))
    names = list(stacked)
    params = {k: v.detach().clone().requires_grad_(True) for k, v in stacked.items()}
    buffers = {k: v.detach().clone() for k, v in stacked_buffers.items()}
    base = copy.deepcopy(models[0]).to("meta")
    dropout = _MemberDropout(base, copy.deepcopy(models[0]), members, device)

    def forward(p: dict[str, torch.Tensor], b: dict[str, torch.Tensor], xb, masks):
        dropout.bind(masks)
        return functional_call(base, (p, b), (xb,))

    vforward = torch.vmap(forward, randomness="different")
    # other random layers than nn.Dropout: one stream per ensemble, fixed by its members' seeds
    torch.manual_seed(int(np.random.SeedSequence([m.seed for m in members]).generate_state(1)[0]))
    rngs = [np.random.default_rng(m.seed) for m in members]
    counts = [len(m.train_index) for m in members]
    totals = [steps_per_epoch(n, bs) * cfg.epochs for n in counts]
    # (M, max N) training indices; a row's tail past its count is never gathered
    train_pad = torch.zeros((n_models, max(counts)), dtype=torch.int64)
    for m, member in enumerate(members):
        train_pad[m, : counts[m]] = torch.as_tensor(member.train_index)
    train_pad = train_pad.to(device)
    weight = None
    if cfg.class_weighting:
        weight = torch.stack(
            [
                class_weights(y[train_pad[m, : counts[m]]], num_classes, cfg.class_weight_power)
                for m in range(n_models)
            ]
        )
    opt = _StackedAdamW([params[k] for k in names], weight_decay=cfg.weight_decay)
    ema = {k: v.detach().clone() for k, v in params.items()} if cfg.ema_decay > 0 else None
    steps = [0] * n_models
    for epoch in range(cfg.epochs):
        t0 = time.perf_counter()
        plans = [epoch_batches(rng, n, cfg) for rng, n in zip(rngs, counts)]
        loss_sum = torch.zeros(n_models, dtype=torch.float64, device=device)  # on the device
        correct = torch.zeros(n_models, dtype=torch.int64, device=device)
        last_lr = [0.0] * n_models
        for s in range(max(len(p) for p in plans)):
            # models with a batch at this step, grouped by batch length (equal shapes vectorise;
            # the last batch of an epoch is short, and folds differ in size)
            groups: dict[int, list[int]] = {}
            for m, plan in enumerate(plans):
                if s < len(plan):
                    groups.setdefault(len(plan[s].index), []).append(m)
            active = np.zeros(n_models, dtype=bool)
            lr = np.zeros(n_models)
            total = torch.zeros((), device=device)
            for length, ms in groups.items():
                sel = torch.as_tensor(ms, device=device)
                whole = len(ms) == n_models
                p_g = params if whole else {k: v[sel] for k, v in params.items()}
                b_g = buffers if whole else {k: v[sel] for k, v in buffers.items()}
                batch = [plans[m][s] for m in ms]
                for m in ms:
                    active[m] = True
                    lr[m] = last_lr[m] = lr_at(cfg, steps[m], totals[m])
                    steps[m] += 1
                # gather each model's batch from its own training indices only
                pos = torch.as_tensor(np.stack([bt.index for bt in batch]), device=device)
                gidx = train_pad[sel].gather(1, pos)  # (G, b)
                xb, yb = x[gidx], y[gidx]  # (G, b, C, H, W), (G, b)
                if cfg.flip:
                    flip = torch.as_tensor(np.stack([bt.flip for bt in batch]), device=device)
                    xb = apply_batch_augmentation(xb, flip, negate_channels)
                y_mix, lam = None, None
                if cfg.mixup > 0:
                    perm = torch.as_tensor(np.stack([bt.mix_perm for bt in batch]), device=device)
                    lam = torch.as_tensor([bt.mix_lam for bt in batch], device=device).float()
                    partner = xb.gather(1, perm.view(*perm.shape, 1, 1, 1).expand_as(xb))
                    lm = lam.view(-1, 1, 1, 1, 1)
                    xb = lm * xb + (1 - lm) * partner
                    y_mix = yb.gather(1, perm)
                masks = dropout.masks(ms, length, tuple(x.shape[1:]), cfg)
                with autocast(cfg, device):  # [train] precision (a no-op for fp32)
                    out = vforward(p_g, b_g, xb, masks)
                if not whole:  # running statistics were updated on the group's copy
                    with torch.no_grad():
                        for k, v in b_g.items():
                            buffers[k][sel] = v
                w_g = None if weight is None else weight[sel]
                loss = _ensemble_loss(out, yb, y_mix, lam, w_g, cfg.proposal_weight)  # (G,)
                total = total + loss.sum()
                with torch.no_grad():
                    loss_sum[sel] += loss.detach().double() * length
                    correct[sel] += (output_logits(out).argmax(-1) == yb).sum(1)
            for p in params.values():
                p.grad = None
            total.backward()  # model m's loss depends only on model m's parameters
            active_t = torch.as_tensor(active, device=device)
            opt.step(torch.as_tensor(lr, dtype=torch.float64, device=device), active_t)
            if ema is not None:
                with torch.no_grad():
                    keep = torch.where(active_t, cfg.ema_decay, 1.0).float()
                    for k, e in ema.items():
                        e.lerp_(params[k].detach(), (1 - keep).view((-1,) + (1,) * (e.ndim - 1)))
        if on_epoch is not None:
            dt = round(time.perf_counter() - t0, 3)
            ls, cs = loss_sum.cpu().numpy(), correct.cpu().numpy()
            for m in range(n_models):
                on_epoch(
                    m,
                    {
                        "epoch": epoch + 1,
                        "lr": last_lr[m],
                        "loss": round(float(ls[m]) / counts[m], 5),
                        "accuracy": round(float(cs[m]) / counts[m], 4),
                        "time_s": dt,
                    },
                )
    final = ema if ema is not None else params
    with torch.no_grad():
        for m, model in enumerate(models):
            for name, p in model.named_parameters():
                p.copy_(final[name][m])
            for name, buf in model.named_buffers():
                buf.copy_(buffers[name][m])
    return [model.eval() for model in models]
