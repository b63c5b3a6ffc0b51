"""Contract tests over every registered model (timm style, STYLE.md rule 33).

Each model: output shape and finiteness, gradients reach every parameter, parameter count equals its
model card, same seed -> same output, checkpoints round-trip, and one fold of training with
:func:`featref.training.loop.train_one_fold`.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from featref.config import TrainConfig
from featref.errors import ConfigError
from featref.models import (
    FeatRefOutput,
    ModelCard,
    create_model,
    get_model_card,
    list_models,
    register_model,
)
from featref.models.base import MerModel
from featref.training.loop import predict, train_one_fold
from featref.training.losses import model_loss

MODELS = list_models()


def _logits(out: torch.Tensor | FeatRefOutput) -> torch.Tensor:
    return out.logits if isinstance(out, FeatRefOutput) else out


def _inputs(card: ModelCard, batch: int = 2, seed: int = 1) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(batch, *card.input_size, generator=gen)


def test_registry_lists_the_baselines() -> None:
    assert {"featref", "dual_inception", "ststnet", "off_apexnet"} <= set(MODELS)
    assert list_models("st*") == ["ststnet"]


@pytest.mark.parametrize("name", MODELS)
def test_model_card_is_consistent(name: str) -> None:
    card = get_model_card(name)
    assert card.name == name
    assert len(card.channels) == card.input_size[0]
    assert card.input_size[1:] == (28, 28)
    assert card.num_classes >= 2
    assert card.paper and card.param_count > 0


@pytest.mark.parametrize("num_classes", [3, 5])
@pytest.mark.parametrize("name", MODELS)
def test_forward_shape_and_finite(name: str, num_classes: int) -> None:
    card = get_model_card(name)
    model = create_model(name, num_classes=num_classes).eval()
    with torch.no_grad():
        out = model(_inputs(card, batch=3))
    logits = _logits(out)
    assert logits.shape == (3, num_classes)
    assert torch.isfinite(logits).all()
    if isinstance(out, FeatRefOutput):
        assert all(torch.isfinite(t).all() for t in out)


@pytest.mark.parametrize("name", MODELS)
def test_declared_interface(name: str) -> None:
    card = get_model_card(name)
    model = create_model(name, num_classes=card.num_classes).eval()
    assert isinstance(model, MerModel)
    x = _inputs(card, batch=3)
    with torch.no_grad():
        whole = _logits(model(x))
        split = _logits(model.forward_head(model.forward_features(x)))
        extra = model.extra_outputs(x)
    assert torch.equal(whole, split)
    assert set(extra) <= {"attention", "shared", "refined"}
    assert all(v.ndim == 2 and v.shape[0] == 3 for v in extra.values())


@pytest.mark.parametrize("name", MODELS)
def test_every_parameter_gets_a_gradient(name: str) -> None:
    card = get_model_card(name)
    model = create_model(name, num_classes=card.num_classes).train()
    x = _inputs(card, batch=4)
    y = torch.tensor([0, 1, 2, 0]) % card.num_classes
    # FR's proposal heads learn only through the proposal loss ([train] proposal_weight > 0).
    loss = model_loss(model(x), y, proposal_weight=1.0)
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing, f"{name}: no gradient for {missing}"
    zero = [n for n, p in model.named_parameters() if not p.grad.abs().sum() > 0]
    assert not zero, f"{name}: zero gradient for {zero}"
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())


@pytest.mark.parametrize("name", MODELS)
def test_param_count_matches_model_card(name: str) -> None:
    card = get_model_card(name)
    model = create_model(name, num_classes=card.num_classes, in_channels=card.input_size[0])
    assert sum(p.numel() for p in model.parameters()) == card.param_count


@pytest.mark.parametrize("name", MODELS)
def test_same_seed_same_output(name: str) -> None:
    card = get_model_card(name)
    x = _inputs(card)

    def run(seed: int, train: bool) -> torch.Tensor:
        torch.manual_seed(seed)
        model = create_model(name, num_classes=card.num_classes).train(train)
        torch.manual_seed(seed + 100)  # dropout masks in training mode
        with torch.no_grad():
            return _logits(model(x))

    for train in (False, True):
        assert torch.equal(run(0, train), run(0, train))
    assert not torch.equal(run(0, False), run(1, False))


@pytest.mark.parametrize("name", MODELS)
def test_checkpoint_round_trip(name: str, tmp_path) -> None:
    card = get_model_card(name)
    model = create_model(name, num_classes=card.num_classes).eval()
    path = tmp_path / f"{name}.pt"
    torch.save(model.state_dict(), path)
    torch.manual_seed(123)  # a different initialisation, overwritten by the checkpoint
    loaded = create_model(name, num_classes=card.num_classes, checkpoint_path=path).eval()
    x = _inputs(card)
    with torch.no_grad():
        assert torch.equal(_logits(model(x)), _logits(loaded(x)))
    # featref's own checkpoints wrap the state dict
    torch.save({"state_dict": model.state_dict()}, path)
    create_model(name, num_classes=card.num_classes, checkpoint_path=path)


def test_missing_checkpoint_names_the_path(tmp_path) -> None:
    path = tmp_path / "nope.pt"
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        create_model("ststnet", num_classes=3, checkpoint_path=path)


def test_unknown_name_suggests_the_closest() -> None:
    with pytest.raises(ValueError, match="Did you mean 'featref'") as info:
        create_model("featrf", num_classes=3)
    assert isinstance(info.value, ConfigError)  # the docstring's promise
    for name in MODELS:
        assert name in str(info.value)


def test_duplicate_registration_is_refused() -> None:
    original = get_model_card("ststnet")
    card = ModelCard(
        name="ststnet",
        input_size=(3, 28, 28),
        channels=("u", "v", "strain"),
        num_classes=3,
        paper="duplicate",
        param_count=1,
    )
    with pytest.raises(ValueError, match="already registered"):
        register_model(card)(lambda **kwargs: torch.nn.Identity())
    assert get_model_card("ststnet") is original
    assert type(create_model("ststnet", num_classes=3)).__name__ == "STSTNet"


@pytest.mark.parametrize("name", MODELS)
def test_trains_one_fold_and_predicts(name: str) -> None:
    card = get_model_card(name)
    k = card.num_classes
    x = _inputs(card, batch=8)
    y = torch.arange(8) % k
    cfg = TrainConfig(epochs=2, batch_size=3, threads=1)
    states = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        epochs: list[dict] = []
        model = train_one_fold(
            create_model(name, num_classes=k),
            x,
            y,
            cfg,
            seed=seed,
            num_classes=k,
            on_epoch=epochs.append,
        )
        assert len(epochs) == 2 and all(np.isfinite(e["loss"]) for e in epochs)
        out = predict(model, x)
        assert out["probs"].shape == (8, k) and np.allclose(out["probs"].sum(1), 1, atol=1e-5)
        reloaded = create_model(name, num_classes=k)
        reloaded.load_state_dict(model.state_dict(), strict=True)
        states.append(model.state_dict())
    # different seeds give different models
    first = next(iter(states[0]))
    assert not torch.equal(states[0][first], states[1][first])
