"""Dual-Inception network for cross-database micro-expression recognition.

Paper: L. Zhou, Q. Mao, L. Xue, "Dual-Inception Network for Cross-Database Micro-Expression
Recognition", IEEE FG 2019 (MEGC2019), doi:10.1109/FG.2019.8756579. The authors' predecessor of FR.

Verified: one inception stream per flow component (u, v) on 28x28 input, blocks of 6 then 16
filters each followed by 2x2 max-pool, concatenation, a 1024-unit fully connected layer, softmax;
about 6.45 M parameters. Inferred: dropout before the classifier.
"""

from __future__ import annotations

import torch
from torch import nn

from featref.models._registry import ModelCard, register_model
from featref.models.base import MerModel, global_pool
from featref.models.layers import InceptionStream, InceptionStreams

__all__ = ["DualInception", "dual_inception"]


class DualInception(MerModel):
    """Inception streams per flow component -> FC ``hidden`` -> classes.

    Args:
        num_classes: Number of classes.
        in_channels: Number of flow components (2 in the paper: u, v).
        input_hw: Input height and width.
        stream_filters: Filters per branch of each inception block. [paper]
        hidden: Width of the fully connected layer. [paper]
        dropout: Dropout before the classifier. [inferred]
    """

    def __init__(
        self,
        num_classes: int = 3,
        in_channels: int = 2,
        *,
        input_hw: tuple[int, int] = (28, 28),
        stream_filters: tuple[int, ...] = (6, 16),
        hidden: int = 1024,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        self.streams = InceptionStreams(
            InceptionStream(1, tuple(stream_filters)) for _ in range(in_channels)
        )
        side = 2 ** len(stream_filters)
        flat = (
            in_channels
            * self.streams[0].out_channels
            * (input_hw[0] // side)
            * (input_hw[1] // side)
        )
        self.fc = nn.Sequential(nn.Linear(flat, hidden), nn.ReLU())
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(hidden, num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, S, 28, 28) -> (B, S * 64, 7, 7)."""
        return self.streams(x)

    def forward_head(self, shared: torch.Tensor) -> torch.Tensor:
        """(B, S * 64, 7, 7) -> (B, hidden) -> (B, num_classes)."""
        return self.classifier(self.dropout(self.fc(shared.flatten(1))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def extra_outputs(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """``{"shared": globally pooled features (B, D)}`` (for the reports' feature plots)."""
        return {"shared": global_pool(self.forward_features(x))}


@register_model(
    ModelCard(
        name="dual_inception",
        input_size=(2, 28, 28),
        channels=("u", "v"),
        num_classes=3,
        paper="Zhou, Mao, Xue, IEEE FG 2019, doi:10.1109/FG.2019.8756579",
        param_count=6_449_867,
        notes="Predecessor of FR; 1024-unit FC on two inception streams.",
    )
)
def dual_inception(*, num_classes: int = 3, in_channels: int = 2, **kwargs) -> DualInception:
    """Dual-Inception with the paper's sizes; keyword arguments as :class:`DualInception`."""
    return DualInception(num_classes=num_classes, in_channels=in_channels, **kwargs)
