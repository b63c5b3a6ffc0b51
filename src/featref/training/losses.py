"""Losses: classification cross-entropy plus FR's proposal loss."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from featref.models.featref import FeatRefOutput

__all__ = ["class_weights", "model_loss", "output_logits"]


def class_weights(labels: torch.Tensor, num_classes: int, power: float = 1.0) -> torch.Tensor:
    """Class weights ``(N / (K * n_k)) ** power`` from *training* labels (1 for absent classes).

    ``power`` 1 is inverse frequency, 0.5 its square root ([train] class_weight_power).
    """
    counts = torch.bincount(labels, minlength=num_classes).float()
    weights = (labels.numel() / (num_classes * counts.clamp_min(1))) ** power
    return torch.where(counts > 0, weights, torch.ones_like(weights))


def output_logits(output: torch.Tensor | FeatRefOutput) -> torch.Tensor:
    """The class logits (B, K) of a model's output: the tensor itself, or a typed result's."""
    return output.logits if isinstance(output, FeatRefOutput) else output


def model_loss(
    output: torch.Tensor | FeatRefOutput,
    target: torch.Tensor,
    *,
    class_weight: torch.Tensor | None = None,
    proposal_weight: float = 0.0,
) -> torch.Tensor:
    """Total loss = CE(logits, y) + lambda * mean_k BCE(proposal_k, 1[y == k]).

    Args:
        output: Logits, or a :class:`FeatRefOutput` whose ``proposal_logits`` get the one-vs-rest
            binary cross-entropy (one binary problem per expression branch).
        target: Class indices (B,).
        class_weight: Optional per-class weights (K,) for the cross-entropy.
        proposal_weight: lambda (``[train] proposal_weight``); 0, or an output without proposal
            logits, drops the term.
    """
    if isinstance(output, FeatRefOutput):
        logits, proposal = output.logits, output.proposal_logits
    else:
        logits, proposal = output, None
    logits = logits.float()  # bf16 under [train] precision = "bf16": the loss is taken in fp32
    loss = F.cross_entropy(logits, target, weight=class_weight)
    if proposal is not None and proposal.shape[-1] > 0 and proposal_weight > 0:
        proposal = proposal.float()
        onehot = F.one_hot(target, logits.shape[-1]).to(proposal.dtype)
        loss = loss + proposal_weight * F.binary_cross_entropy_with_logits(proposal, onehot)
    return loss
