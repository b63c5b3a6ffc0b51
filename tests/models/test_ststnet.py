"""STSTNet: faithful to the authors' public PyTorch release (christy1206/STSTNet, main.py).

The table below is read from ``main.py`` at commit 220f3de2dd262d726875330761703e1e39bbfe2e of
https://github.com/christy1206/STSTNet (the commit that publishes ``STSTNet_Weights/*.pth``):
the keys and shapes of ``STSTNet().state_dict()`` there, for 3 input channels and 3 classes.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from featref.models import create_model
from featref.models.ststnet import STSTNet

AUTHORS_STATE_DICT_SHAPES: dict[str, tuple[int, ...]] = {
    "conv1.weight": (3, 3, 3, 3),
    "conv1.bias": (3,),
    "conv2.weight": (5, 3, 3, 3),
    "conv2.bias": (5,),
    "conv3.weight": (8, 3, 3, 3),
    "conv3.bias": (8,),
    "bn1.weight": (3,),
    "bn1.bias": (3,),
    "bn1.running_mean": (3,),
    "bn1.running_var": (3,),
    "bn1.num_batches_tracked": (),
    "bn2.weight": (5,),
    "bn2.bias": (5,),
    "bn2.running_mean": (5,),
    "bn2.running_var": (5,),
    "bn2.num_batches_tracked": (),
    "bn3.weight": (8,),
    "bn3.bias": (8,),
    "bn3.running_mean": (8,),
    "bn3.running_var": (8,),
    "bn3.num_batches_tracked": (),
    "fc.weight": (3, 400),
    "fc.bias": (3,),
}


def _authors_state_dict(seed: int = 0) -> dict[str, torch.Tensor]:
    """A state dict with exactly the authors' keys and shapes (random values)."""
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in AUTHORS_STATE_DICT_SHAPES.items():
        if key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(800, dtype=torch.long)
        elif key.endswith("running_var"):
            state[key] = torch.rand(shape, generator=gen) + 0.5
        else:
            state[key] = torch.randn(shape, generator=gen)
    return state


def test_state_dict_keys_and_shapes_match_the_authors_release() -> None:
    state = STSTNet().state_dict()
    assert {k: tuple(v.shape) for k, v in state.items()} == AUTHORS_STATE_DICT_SHAPES


def test_authors_weights_load_strictly(tmp_path) -> None:
    state = _authors_state_dict()
    path = tmp_path / "sub01.pth"  # the release names files after the test subject
    torch.save(state, path)
    model = create_model("ststnet", num_classes=3, checkpoint_path=path)
    for key, value in model.state_dict().items():
        assert torch.equal(value, state[key]), key


def test_checkpoint_with_a_missing_key_is_refused(tmp_path) -> None:
    state = _authors_state_dict()
    del state["bn3.running_var"]
    path = tmp_path / "bad.pth"
    torch.save(state, path)
    with pytest.raises(RuntimeError, match="bn3.running_var"):
        create_model("ststnet", num_classes=3, checkpoint_path=path)


def _reference_forward(state: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """The release's inference computation, in plain functional ops (eval mode)."""
    streams = []
    for i in (1, 2, 3):
        h = F.conv2d(x, state[f"conv{i}.weight"], state[f"conv{i}.bias"], padding=2)
        h = F.relu(h)  # ReLU before BatchNorm, as in the release
        h = F.batch_norm(
            h,
            state[f"bn{i}.running_mean"],
            state[f"bn{i}.running_var"],
            state[f"bn{i}.weight"],
            state[f"bn{i}.bias"],
            training=False,
        )
        streams.append(F.max_pool2d(h, kernel_size=3, stride=3, padding=1))
    h = F.avg_pool2d(torch.cat(streams, 1), kernel_size=2, stride=2)
    return F.linear(h.reshape(len(x), -1), state["fc.weight"], state["fc.bias"])


def test_forward_matches_the_release_computation() -> None:
    state = _authors_state_dict(seed=3)
    model = STSTNet()
    model.load_state_dict(state, strict=True)
    model.eval()
    x = torch.rand(4, 3, 28, 28) * 255  # the release feeds 8-bit images unscaled
    with torch.no_grad():
        assert torch.allclose(model(x), _reference_forward(state, x), rtol=1e-5, atol=1e-4)
        assert model.forward_features(x).shape == (4, 16, 5, 5)


def test_other_input_sizes() -> None:
    model = STSTNet(num_classes=5, in_channels=2, input_hw=(32, 32)).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 2, 32, 32)).shape == (2, 5)
