"""STSTNet: Shallow Triple Stream Three-dimensional CNN for micro-expression recognition.

Paper: S.-T. Liong, Y. S. Gan, J. See, H.-Q. Khor, Y.-C. Huang, "Shallow Triple Stream
Three-dimensional CNN (STSTNet) for Micro-expression Recognition", IEEE FG 2019 (MEGC2019),
arXiv:1902.03634. Authors' code: https://github.com/christy1206/STSTNet. Reported on the MEGC2019
composite (442 clips, leave-one-subject-out): UF1 0.7353, UAR 0.7605.

Verified against the authors' public PyTorch release, ``main.py`` of the GitHub repository
``christy1206/STSTNet`` (commit 220f3de2dd262d726875330761703e1e39bbfe2e, the commit that also
adds their per-fold weights ``STSTNet_Weights/<subject>.pth`` and ``STSTNet_python_logfile.txt``):

* the input is one (3, 28, 28) image holding the optical strain and the two optical-flow
  components; the "three streams" are three convolutions of different widths (3, 5 and 8
  filters) that *each see all three input channels*, not one stream per channel;
* each stream: 3x3 convolution with padding 2 (28 -> 30), ReLU, BatchNorm (after the ReLU),
  3x3 max-pool with stride 3 and padding 1 (30 -> 10), dropout p=0.5;
* the streams are concatenated (3 + 5 + 8 = 16 channels), 2x2 average-pooled (10 -> 5),
  flattened (16 * 5 * 5 = 400) and fed to one linear layer to the classes (3);
* the state-dict keys and shapes: ``conv{1,2,3}.{weight,bias}``, ``bn{1,2,3}.{weight, bias,
  running_mean, running_var, num_batches_tracked}`` and ``fc.{weight,bias}``; this module
  produces exactly these, so the published per-fold weights load with ``strict=True``
  (checked in ``tests/models/test_ststnet.py`` against a key -> shape table; 1,683 parameters).

Input encoding of the release (from two documented facts, not from running their weights):
the release reads the published composite images with ``cv2.imread`` and feeds them unscaled;
those images are RGB = (u, v, strain), so OpenCV's BGR order gives the network (strain, v, u)
with values 0-255. ``featref evaluate-weights --encoding ststnet_release`` feeds exactly that
(``featref.evaluation.fold_weights.ststnet_release_input``; a real-data test compares it with
``cv2.imread`` of every image of three subjects).

Not verified here: the per-fold weights themselves (binary files of the GitHub release, not
fetched). With them, ``featref evaluate-weights --model ststnet --weights-dir STSTNet_Weights
--encoding ststnet_release`` predicts each subject with its own fold's file; the release's log
of that procedure (``STSTNet_python_logfile.txt``) reports UF1 0.7209 / UAR 0.7250.

The training recipe of the release (Adam, lr 5e-5, batch 256, 800 epochs, plain cross-entropy)
belongs to the training config, not to this module.
"""

from __future__ import annotations

import torch
from torch import nn

from featref.models._registry import ModelCard, register_model
from featref.models.base import MerModel, global_pool

__all__ = ["STSTNet", "ststnet"]


def _pooled_side(side: int) -> int:
    """Spatial size after conv (k3, p2), max-pool (k3, s3, p1) and avg-pool (k2, s2)."""
    side = side + 2  # 3x3 conv, padding 2
    side = (side + 2 - 3) // 3 + 1  # 3x3 max-pool, stride 3, padding 1
    return side // 2  # 2x2 average pool


class STSTNet(MerModel):
    """Three shallow convolution streams of different widths on a (u, v, strain) image.

    Attribute names follow the authors' release (``conv1``-``conv3``, ``bn1``-``bn3``, ``fc``)
    so that their ``state_dict`` files load unchanged.

    Args:
        num_classes: Number of classes (3 in the paper).
        in_channels: Input channels; every stream sees all of them (3 in the paper).
        input_hw: Input height and width.
        stream_channels: Filters of each stream's convolution. [authors' code: (3, 5, 8)]
        dropout: Dropout after each stream's max-pool. [authors' code: 0.5]

    References:
        Liong et al., IEEE FG 2019, arXiv:1902.03634.
    """

    def __init__(
        self,
        num_classes: int = 3,
        in_channels: int = 3,
        *,
        input_hw: tuple[int, int] = (28, 28),
        stream_channels: tuple[int, ...] = (3, 5, 8),
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        self.num_streams = len(stream_channels)
        for i, width in enumerate(stream_channels, start=1):
            self.add_module(f"conv{i}", nn.Conv2d(in_channels, width, 3, padding=2))
        self.relu = nn.ReLU()
        for i, width in enumerate(stream_channels, start=1):
            self.add_module(f"bn{i}", nn.BatchNorm2d(width))
        self.maxpool = nn.MaxPool2d(3, stride=3, padding=1)
        self.avgpool = nn.AvgPool2d(2, stride=2)
        self.dropout = nn.Dropout(dropout)
        flat = sum(stream_channels) * _pooled_side(input_hw[0]) * _pooled_side(input_hw[1])
        self.fc = nn.Linear(flat, num_classes)

    def _stream(self, i: int, x: torch.Tensor) -> torch.Tensor:
        conv, bn = getattr(self, f"conv{i}"), getattr(self, f"bn{i}")
        # (B, C, 28, 28) -> conv (B, w, 30, 30) -> ReLU -> BN -> max-pool (B, w, 10, 10)
        return self.dropout(self.maxpool(bn(self.relu(conv(x)))))

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, 28, 28) -> concatenated streams (B, 16, 10, 10) -> avg-pool (B, 16, 5, 5)."""
        streams = [self._stream(i, x) for i in range(1, self.num_streams + 1)]
        return self.avgpool(torch.cat(streams, dim=1))

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        """(B, 16, 5, 5) -> (B, 400) -> logits (B, num_classes)."""
        return self.fc(features.flatten(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def extra_outputs(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """``{"shared": globally pooled features (B, D)}`` (for the reports' feature plots)."""
        return {"shared": global_pool(self.forward_features(x))}


@register_model(
    ModelCard(
        name="ststnet",
        input_size=(3, 28, 28),
        channels=("u", "v", "strain"),
        num_classes=3,
        paper="Liong, Gan, See, Khor, Huang, IEEE FG 2019, arXiv:1902.03634",
        param_count=1_683,
        notes=(
            "State-dict keys of the authors' PyTorch release (christy1206/STSTNet main.py): "
            "their per-fold weights load with strict=True. Their input is (strain, v, u) at "
            "0-255 (featref evaluate-weights --encoding ststnet_release)."
        ),
    )
)
def ststnet(*, num_classes: int = 3, in_channels: int = 3, **kwargs) -> STSTNet:
    """STSTNet as in the authors' release; keyword arguments as :class:`STSTNet`."""
    return STSTNet(num_classes=num_classes, in_channels=in_channels, **kwargs)
