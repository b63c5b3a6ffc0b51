"""OFF-ApexNet: optical-flow features from the apex frame, two-stream CNN.

Paper: Y. S. Gan, S.-T. Liong, W.-C. Yau, Y.-C. Huang, L.-K. Tan, "OFF-ApexNet on
micro-expression recognition system", Signal Processing: Image Communication 74 (2019) 129-139,
doi:10.1016/j.image.2019.02.005, arXiv:1805.08699. No public code from the authors was found.

From the paper (as summarised in the featref issue and consistent with later re-implementations):
the input is the horizontal (u) and vertical (v) optical flow between onset and apex, 28x28; one
stream per component, each a 5x5 convolution with 6 filters -> max-pool -> 5x5 convolution with
16 filters -> max-pool; the two streams are flattened and concatenated, then two fully connected
layers of 1024 units and a softmax layer over the classes.

Inferred:

* "same" padding and 2x2 max-pooling with stride 2 (28 -> 14 -> 7, 16 * 7 * 7 = 784 features per
  stream). This gives 2,664,475 parameters for 3 classes, matching the 2.66 M that the Off-TANet
  authors (PRICAI 2021, ``ECNU-Cross-Innovation-Lab/PRICAI2021-Off-TANet`` README) report for
  their OFF-ApexNet re-implementation;
* ReLU after every convolution and hidden fully connected layer;
* dropout (p=0.5) after each hidden fully connected layer.
"""

from __future__ import annotations

import torch
from torch import nn

from featref.models._registry import ModelCard, register_model
from featref.models.base import MerModel, global_pool

__all__ = ["ApexStream", "OffApexNet", "off_apexnet"]


class ApexStream(nn.Module):
    """One flow component's stream: two (5x5 conv -> ReLU -> 2x2 max-pool) stages.

    Args:
        filters: Filters of the two convolutions. [paper: (6, 16)]
        kernel_size: Convolution size, "same" padding. [paper: 5]
    """

    def __init__(self, filters: tuple[int, int] = (6, 16), kernel_size: int = 5) -> None:
        super().__init__()
        pad = kernel_size // 2
        self.conv1 = nn.Conv2d(1, filters[0], kernel_size, padding=pad)
        self.conv2 = nn.Conv2d(filters[0], filters[1], kernel_size, padding=pad)
        self.relu = nn.ReLU()
        self.pool = nn.MaxPool2d(2)
        self.out_channels = filters[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.relu(self.conv1(x)))  # (B, 1, 28, 28) -> (B, 6, 14, 14)
        return self.pool(self.relu(self.conv2(x)))  # -> (B, 16, 7, 7)


class OffApexNet(MerModel):
    """One CNN stream per flow component -> concatenation -> FC -> FC -> classes.

    Args:
        num_classes: Number of classes.
        in_channels: Number of flow components, one stream each (2 in the paper: u, v).
        input_hw: Input height and width.
        filters: Filters of each stream's two convolutions. [paper]
        kernel_size: Convolution size. [paper]
        hidden: Widths of the fully connected layers. [paper: (1024, 1024)]
        dropout: Dropout after each hidden fully connected layer. [inferred]

    References:
        Gan et al., Signal Processing: Image Communication 2019, doi:10.1016/j.image.2019.02.005.
    """

    def __init__(
        self,
        num_classes: int = 3,
        in_channels: int = 2,
        *,
        input_hw: tuple[int, int] = (28, 28),
        filters: tuple[int, int] = (6, 16),
        kernel_size: int = 5,
        hidden: tuple[int, ...] = (1024, 1024),
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        self.streams = nn.ModuleList(
            ApexStream(tuple(filters), kernel_size) for _ in range(in_channels)
        )
        flat = in_channels * filters[1] * (input_hw[0] // 4) * (input_hw[1] // 4)
        layers: list[nn.Module] = []
        for width in hidden:
            layers += [nn.Linear(flat, width), nn.ReLU(), nn.Dropout(dropout)]
            flat = width
        self.fc = nn.Sequential(*layers)
        self.classifier = nn.Linear(flat, num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, S, 28, 28) -> one stream per component, concatenated: (B, S * 16 * 7 * 7)."""
        return torch.cat([s(x[:, i : i + 1]).flatten(1) for i, s in enumerate(self.streams)], 1)

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        """(B, 1568) -> FC (B, 1024) -> FC (B, 1024) -> logits (B, num_classes)."""
        return self.classifier(self.fc(features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def extra_outputs(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """``{"shared": globally pooled features (B, D)}`` (for the reports' feature plots)."""
        return {"shared": global_pool(self.forward_features(x))}


@register_model(
    ModelCard(
        name="off_apexnet",
        input_size=(2, 28, 28),
        channels=("u", "v"),
        num_classes=3,
        paper="Gan, Liong, Yau, Huang, Tan, Signal Process. Image Commun. 2019, "
        "doi:10.1016/j.image.2019.02.005, arXiv:1805.08699",
        param_count=2_664_475,
        notes="Two 5x5-conv streams (6, 16 filters) on u, v; FC 1024 -> 1024. Padding inferred.",
    )
)
def off_apexnet(*, num_classes: int = 3, in_channels: int = 2, **kwargs) -> OffApexNet:
    """OFF-ApexNet with the paper's sizes; keyword arguments as :class:`OffApexNet`."""
    return OffApexNet(num_classes=num_classes, in_channels=in_channels, **kwargs)
