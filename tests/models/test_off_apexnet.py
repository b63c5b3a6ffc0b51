"""OFF-ApexNet: stage shapes and stream independence."""

from __future__ import annotations

import torch

from featref.models import create_model
from featref.models.off_apexnet import ApexStream, OffApexNet


def test_stage_shapes() -> None:
    stream = ApexStream()
    assert stream(torch.randn(2, 1, 28, 28)).shape == (2, 16, 7, 7)
    model = OffApexNet().eval()
    x = torch.randn(2, 2, 28, 28)
    feats = model.forward_features(x)
    assert feats.shape == (2, 2 * 16 * 7 * 7)
    assert [m.out_features for m in model.fc if isinstance(m, torch.nn.Linear)] == [1024, 1024]
    assert model.forward_head(feats).shape == (2, 3)


def test_each_component_has_its_own_stream() -> None:
    model = create_model("off_apexnet", num_classes=3).eval()
    x = torch.randn(1, 2, 28, 28)
    x2 = x.clone()
    x2[:, 1] += 1.0  # change v only
    with torch.no_grad():
        a, b = model.forward_features(x), model.forward_features(x2)
    half = a.shape[1] // 2
    assert torch.equal(a[:, :half], b[:, :half])  # the u stream does not see v
    assert not torch.equal(a[:, half:], b[:, half:])


def test_three_components() -> None:
    model = create_model("off_apexnet", num_classes=3, in_channels=3).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 3, 28, 28)).shape == (2, 3)
