"""Feature Refinement (FR, "FeatRef") for micro-expression recognition.

Paper: L. Zhou, Q. Mao, X. Huang, F. Zhang, Z. Zhang, "Feature refinement: An expression-specific
feature learning and fusion method for micro-expression recognition", Pattern Recognition 122
(2022) 108275, doi:10.1016/j.patcog.2021.108275, arXiv:2101.04838.

Verified from the paper: optical-flow input (onset -> apex, u and v, 28x28); expression-shared
features from one inception stream per flow component (the Dual-Inception blocks, 6 then 16
filters, each followed by 2x2 max-pool); an expression proposal module with one branch per class,
each producing an expression-specific feature weighted by a learned attention factor and trained
with a one-vs-rest binary cross-entropy proposal loss; a classification branch that fuses the
expression-specific features; total loss = classification CE + lambda * proposal loss.

Inferred (the paper leaves it open; every item is a keyword argument, defaults in docs/method.md):
the branch architecture (a fully connected layer from the flattened shared map to
``branch_width``, optionally after a 1x1 reduction to ``branch_channels``), the attention factor
as a sigmoid gate on each branch's feature, the fusion operator (``"concat"`` by default),
and dropout. lambda, the proposal loss weight, is a training setting: ``[train] proposal_weight``
(default 1.0, read by :func:`featref.training.losses.model_loss`).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from featref.models._registry import ModelCard, register_model
from featref.models.base import MerModel, global_pool
from featref.models.layers import InceptionStream

__all__ = ["FUSIONS", "FeatRef", "FeatRefOutput", "featref"]

FUSIONS: tuple[str, ...] = ("concat", "sum", "attention_sum")


class FeatRefOutput(NamedTuple):
    """What :meth:`FeatRef.forward` returns (a NamedTuple, so ``torch.func.vmap`` can batch it)."""

    logits: torch.Tensor  # (B, K) class scores
    proposal_logits: torch.Tensor  # (B, K) one-vs-rest scores of the proposal heads; (B, 0) if off
    attention: torch.Tensor  # (B, K) attention factor of each branch; ones when attention is off


class ExpressionBranch(nn.Module):
    """One expression proposal branch: shared feature -> expression-specific feature."""

    def __init__(self, in_ch: int, spatial: int, branch_channels: int, width: int) -> None:
        super().__init__()
        # 1x1 reduction of the shared map (0: none, the branch reads the full shared map)
        if branch_channels:
            self.reduce = nn.Sequential(nn.Conv2d(in_ch, branch_channels, 1), nn.ReLU())
        else:
            self.reduce = nn.Identity()
        flat = (branch_channels or in_ch) * spatial
        self.fc = nn.Sequential(nn.Linear(flat, width), nn.ReLU())
        self.gate = nn.Linear(width, 1)  # attention factor (before the sigmoid)
        self.proposal = nn.Linear(width, 1)  # "is this sample of my expression?" logit

    def forward(self, shared: torch.Tensor) -> torch.Tensor:
        # (B, C, 7, 7) -> (B, branch_channels, 7, 7) -> (B, width)
        return self.fc(self.reduce(shared).flatten(1))


class FeatRef(MerModel):
    """The FR network: shared inception features, expression proposal module, fusion classifier.

    Args:
        num_classes: Number of expression classes (one proposal branch each).
        in_channels: Number of flow components; each gets its own inception stream.
        input_hw: Input height and width.
        stream_filters: Filters per branch of each inception block. [paper]
        branch_channels: Channels of each branch's 1x1 reduction of the shared map; 0 (default)
            means none: each branch reads the whole flattened shared map. [inferred]
        branch_width: Size of each expression-specific feature. [inferred]
        fusion: ``"concat"`` (concatenate the weighted features), ``"sum"`` (add them) or
            ``"attention_sum"`` (average weighted by the normalised attention factors). [inferred]
        attention: Use the learned attention factors (off: every factor is 1). [paper]
        proposal: Use the expression proposal module; off gives the "shared features only"
            ablation, a plain head of the same width on the shared features.
        dropout: Dropout before the classifier. [inferred]
    """

    def __init__(
        self,
        num_classes: int = 3,
        in_channels: int = 3,
        *,
        input_hw: tuple[int, int] = (28, 28),
        stream_filters: tuple[int, ...] = (6, 16),
        branch_channels: int = 0,
        branch_width: int = 128,
        fusion: str = "concat",
        attention: bool = True,
        proposal: bool = True,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        if fusion not in FUSIONS:
            raise ValueError(f"fusion must be one of {FUSIONS}. Got {fusion!r}.")
        self.num_classes = num_classes
        self.fusion = fusion
        self.attention = attention
        self.proposal = proposal
        self.streams = nn.ModuleList(
            InceptionStream(1, tuple(stream_filters)) for _ in range(in_channels)
        )
        shared_ch = in_channels * self.streams[0].out_channels
        spatial = (input_hw[0] // 2 ** len(stream_filters)) * (
            input_hw[1] // 2 ** len(stream_filters)
        )
        if proposal:
            self.branches = nn.ModuleList(
                ExpressionBranch(shared_ch, spatial, branch_channels, branch_width)
                for _ in range(num_classes)
            )
            fused = branch_width * (num_classes if fusion == "concat" else 1)
        else:
            width = branch_width * num_classes
            # same capacity as the K branches together, without per-class structure
            reduce: list[nn.Module] = []
            if branch_channels:
                reduce = [nn.Conv2d(shared_ch, branch_channels * num_classes, 1), nn.ReLU()]
            flat = (branch_channels * num_classes or shared_ch) * spatial
            self.shared_head = nn.Sequential(
                *reduce, nn.Flatten(1), nn.Linear(flat, width), nn.ReLU()
            )
            fused = width
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(fused, num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Expression-shared features: (B, S, 28, 28) -> (B, S * 64, 7, 7)."""
        return torch.cat([s(x[:, i : i + 1]) for i, s in enumerate(self.streams)], dim=1)

    def refine(self, shared: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Expression-specific features, attention factors and proposal logits.

        Returns:
            ``(specific (B, K, W), attention (B, K), proposal_logits (B, K))``.
        """
        feats = torch.stack([b(shared) for b in self.branches], dim=1)  # (B, K, W)
        gates = torch.cat([b.gate(feats[:, k]) for k, b in enumerate(self.branches)], dim=1)
        props = torch.cat([b.proposal(feats[:, k]) for k, b in enumerate(self.branches)], dim=1)
        attention = torch.sigmoid(gates) if self.attention else torch.ones_like(gates)
        return feats, attention, props

    def forward_head(self, shared: torch.Tensor) -> FeatRefOutput:
        """Proposal module + fusion + classifier on shared features."""
        if not self.proposal:
            logits = self.classifier(self.dropout(self.shared_head(shared)))
            b = shared.shape[0]
            return FeatRefOutput(
                logits, shared.new_zeros(b, 0), shared.new_ones(b, self.num_classes)
            )
        feats, attention, props = self.refine(shared)
        weighted = feats * attention.unsqueeze(-1)  # (B, K, W)
        if self.fusion == "concat":
            fused = weighted.flatten(1)  # (B, K * W)
        elif self.fusion == "sum":
            fused = weighted.sum(1)  # (B, W)
        else:
            norm = attention / attention.sum(1, keepdim=True).clamp_min(1e-6)
            fused = (feats * norm.unsqueeze(-1)).sum(1)  # (B, W)
        return FeatRefOutput(self.classifier(self.dropout(fused)), props, attention)

    def forward(self, x: torch.Tensor) -> FeatRefOutput:
        # (B, S, H, W) -> shared (B, S*64, H/4, W/4) -> logits (B, K)
        return self.forward_head(self.forward_features(x))

    def extra_outputs(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Attention factors (B, K), pooled shared features (B, D), refined features (B, K * W).

        ``refined`` is (B, 0) without the proposal module; ``attention`` is then all ones.
        """
        shared = self.forward_features(x)
        attention = self.forward_head(shared).attention
        if self.proposal:
            refined = self.refine(shared)[0].flatten(1)
        else:
            refined = shared.new_zeros(shared.shape[0], 0)
        return {"attention": attention, "shared": global_pool(shared), "refined": refined}


_PAPER = "Zhou et al., Pattern Recognition 2022, doi:10.1016/j.patcog.2021.108275, arXiv:2101.04838"


@register_model(
    ModelCard(
        name="featref",
        input_size=(3, 28, 28),
        channels=("u", "v", "strain"),
        num_classes=3,
        paper=_PAPER,
        param_count=3_649_845,
        notes="FR with inferred branch sizes; see docs/method.md. in_channels=2 for u, v only.",
    )
)
def featref(*, num_classes: int = 3, in_channels: int = 3, **kwargs) -> FeatRef:
    """FR with the documented defaults; keyword arguments as :class:`FeatRef`."""
    return FeatRef(num_classes=num_classes, in_channels=in_channels, **kwargs)
