"""Building blocks shared by several model families."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["ConvReLU", "InceptionBlock", "InceptionStream"]


class ConvReLU(nn.Sequential):
    """``Conv2d`` (same padding), optionally ``BatchNorm2d``, then ReLU.

    Args:
        in_ch: Input channels.
        out_ch: Output channels.
        kernel_size: Square kernel size (odd; padding keeps the resolution).
        batch_norm: Put a ``BatchNorm2d`` between the convolution and the ReLU; the convolution
            then has no bias (the BatchNorm shift replaces it).
    """

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int, *, batch_norm: bool = False):
        conv = nn.Conv2d(in_ch, out_ch, kernel_size, padding=kernel_size // 2, bias=not batch_norm)
        layers: list[nn.Module] = [conv, nn.BatchNorm2d(out_ch)] if batch_norm else [conv]
        super().__init__(*layers, nn.ReLU())


class InceptionBlock(nn.Module):
    """The four-branch inception block of Dual-Inception (Zhou et al., FG 2019). [DI-code]

    Branches: 1x1; 1x1 -> 3x3; 1x1 -> 5x5; 3x3 max-pool -> 1x1. Each branch has ``filters``
    channels; the outputs are concatenated to ``4 * filters`` channels at the input resolution.
    ``batch_norm=True`` adds a BatchNorm after every convolution (an option, [inferred]).
    """

    def __init__(self, in_ch: int, filters: int, *, batch_norm: bool = False) -> None:
        super().__init__()
        bn = batch_norm
        self.branch1 = ConvReLU(in_ch, filters, 1, batch_norm=bn)
        self.branch3 = nn.Sequential(
            ConvReLU(in_ch, filters, 1, batch_norm=bn), ConvReLU(filters, filters, 3, batch_norm=bn)
        )
        self.branch5 = nn.Sequential(
            ConvReLU(in_ch, filters, 1, batch_norm=bn), ConvReLU(filters, filters, 5, batch_norm=bn)
        )
        self.branch_pool = nn.Sequential(
            nn.MaxPool2d(3, stride=1, padding=1), ConvReLU(in_ch, filters, 1, batch_norm=bn)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # (B, in_ch, H, W) -> (B, 4 * filters, H, W)
        return torch.cat(
            [self.branch1(x), self.branch3(x), self.branch5(x), self.branch_pool(x)], dim=1
        )


class InceptionStream(nn.Module):
    """One flow component's stream: inception blocks, each followed by 2x2 max-pool. [DI-code]

    With the default ``filters=(6, 16)`` a (B, 1, 28, 28) input becomes (B, 64, 7, 7).
    ``batch_norm=True``: BatchNorm after every convolution (see :class:`InceptionBlock`).
    """

    def __init__(
        self, in_ch: int = 1, filters: tuple[int, ...] = (6, 16), *, batch_norm: bool = False
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        ch = in_ch
        for f in filters:
            layers += [InceptionBlock(ch, f, batch_norm=batch_norm), nn.MaxPool2d(2)]
            ch = 4 * f
        self.body = nn.Sequential(*layers)
        self.out_channels = ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)
