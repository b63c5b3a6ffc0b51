"""Building blocks shared by several model families."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["ConvReLU", "InceptionBlock", "InceptionStream"]


class ConvReLU(nn.Sequential):
    """``Conv2d`` (same padding) followed by ReLU."""

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int) -> None:
        super().__init__(nn.Conv2d(in_ch, out_ch, kernel_size, padding=kernel_size // 2), nn.ReLU())


class InceptionBlock(nn.Module):
    """The four-branch inception block of Dual-Inception (Zhou et al., FG 2019).

    Branches: 1x1; 1x1 -> 3x3; 1x1 -> 5x5; 3x3 max-pool -> 1x1. Each branch has ``filters``
    channels; the outputs are concatenated to ``4 * filters`` channels at the input resolution.
    """

    def __init__(self, in_ch: int, filters: int) -> None:
        super().__init__()
        self.branch1 = ConvReLU(in_ch, filters, 1)
        self.branch3 = nn.Sequential(ConvReLU(in_ch, filters, 1), ConvReLU(filters, filters, 3))
        self.branch5 = nn.Sequential(ConvReLU(in_ch, filters, 1), ConvReLU(filters, filters, 5))
        self.branch_pool = nn.Sequential(
            nn.MaxPool2d(3, stride=1, padding=1), ConvReLU(in_ch, filters, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # (B, in_ch, H, W) -> (B, 4 * filters, H, W)
        return torch.cat(
            [self.branch1(x), self.branch3(x), self.branch5(x), self.branch_pool(x)], dim=1
        )


class InceptionStream(nn.Module):
    """One flow component's stream: inception blocks, each followed by 2x2 max-pool.

    With the default ``filters=(6, 16)`` a (B, 1, 28, 28) input becomes (B, 64, 7, 7).
    """

    def __init__(self, in_ch: int = 1, filters: tuple[int, ...] = (6, 16)) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        ch = in_ch
        for f in filters:
            layers += [InceptionBlock(ch, f), nn.MaxPool2d(2)]
            ch = 4 * f
        self.body = nn.Sequential(*layers)
        self.out_channels = ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)
