"""The declared model interface every registered model implements.

Generic code (training, prediction, unit records) talks to a model only through these methods,
never by probing attributes (as timm's generic code relies only on its model interface):

* ``forward_features(x)``: the input (B, C, H, W) -> the model's features (a map or a vector);
* ``forward_head(features)``: features -> the model's output: logits (B, K), or a small typed
  result whose ``logits`` field holds them (FR's ``FeatRefOutput`` adds proposal logits);
* ``forward(x)`` = ``forward_head(forward_features(x))``;
* ``extra_outputs(x)``: the one method for outputs beyond the logits that reports use (FR's
  attention factors, shared and refined features), a dict of name -> (B, D) tensors; ``{}`` for a
  model without any. Names used by featref's unit records: ``"attention"``, ``"shared"``,
  ``"refined"``.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["MerModel", "global_pool"]


def global_pool(features: torch.Tensor) -> torch.Tensor:
    """Global average pool of a feature map (B, C, H, W) -> (B, C); a (B, D) vector as it is."""
    return features.flatten(2).mean(2) if features.ndim == 4 else features


class MerModel(nn.Module):
    """Base class of featref's micro-expression recognition models.

    Subclasses implement :meth:`forward_features` and :meth:`forward_head`, and override
    :meth:`extra_outputs` when they have outputs beyond the logits.
    """

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The model's features of the input ``x`` (B, C, H, W)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement forward_features.")

    def forward_head(self, features: torch.Tensor):
        """The model's output (logits (B, K) or a typed result with ``logits``) from features."""
        raise NotImplementedError(f"{type(self).__name__} does not implement forward_head.")

    def forward(self, x: torch.Tensor):
        return self.forward_head(self.forward_features(x))

    def extra_outputs(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Outputs beyond the logits for reports, each (B, D); none by default.

        Args:
            x: Input (B, C, H, W), as for :meth:`forward`.

        Returns:
            A dict of name -> (B, D) tensor; ``{}`` for this base class.
        """
        return {}
