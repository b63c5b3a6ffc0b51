"""FR-specific tests: every fusion / attention / proposal option builds, runs and behaves."""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F

from featref.config import TrainConfig
from featref.errors import ConfigError
from featref.models import FeatRefOutput, create_model
from featref.models.featref import FUSIONS, FeatRef
from featref.training.losses import model_loss

OPTIONS = list(itertools.product(FUSIONS, (True, False), (True, False)))


@pytest.mark.parametrize(("fusion", "attention", "proposal"), OPTIONS)
def test_every_option_builds_and_runs(fusion: str, attention: bool, proposal: bool) -> None:
    model = create_model(
        "featref", num_classes=3, fusion=fusion, attention=attention, proposal=proposal
    )
    x = torch.randn(4, 3, 28, 28)
    y = torch.tensor([0, 1, 2, 1])
    out = model.train()(x)
    assert isinstance(out, FeatRefOutput)
    assert out.logits.shape == (4, 3)
    assert out.proposal_logits.shape == ((4, 3) if proposal else (4, 0))
    assert out.attention.shape == (4, 3)
    loss = model_loss(out, y, proposal_weight=1.0)
    loss.backward()
    assert torch.isfinite(loss)
    with torch.no_grad():
        out = model.eval()(x)
    if attention and proposal:
        assert ((out.attention > 0) & (out.attention < 1)).all()
    else:
        assert torch.equal(out.attention, torch.ones(4, 3))


def test_proposal_off_has_no_proposal_logits_and_no_lambda() -> None:
    model = create_model("featref", num_classes=5, proposal=False).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, 28, 28))
    assert out.proposal_logits.shape == (2, 0)
    assert out.logits.shape == (2, 5)
    y = torch.tensor([0, 4])
    # lambda has nothing to weigh: the loss is the plain cross-entropy
    assert torch.equal(model_loss(out, y, proposal_weight=2.0), F.cross_entropy(out.logits, y))
    assert not hasattr(model, "branches")


def test_lambda_is_a_training_setting_not_a_model_argument() -> None:
    with pytest.raises(ConfigError, match="proposal_weight"):
        create_model("featref", num_classes=3, proposal_weight=0.5)
    with pytest.raises(ConfigError, match="proposal_weight"):
        TrainConfig(proposal_weight=-1.0)


@pytest.mark.parametrize("proposal", [True, False])
def test_extra_outputs(proposal: bool) -> None:
    model = create_model("featref", num_classes=3, branch_width=8, proposal=proposal).eval()
    x = torch.randn(2, 3, 28, 28)
    with torch.no_grad():
        extra = model.extra_outputs(x)
        out = model(x)
    assert set(extra) == {"attention", "shared", "refined"}
    assert torch.equal(extra["attention"], out.attention)
    assert extra["shared"].shape == (2, 3 * 64)
    assert extra["refined"].shape == ((2, 3 * 8) if proposal else (2, 0))


def test_proposal_loss_is_the_only_path_to_the_proposal_heads() -> None:
    model = create_model("featref", num_classes=3).train()
    out = model(torch.randn(4, 3, 28, 28))
    model_loss(out, torch.tensor([0, 1, 2, 0]), proposal_weight=0.0).backward()
    heads = [p for b in model.branches for p in b.proposal.parameters()]
    assert all(p.grad is None for p in heads)  # "without proposal loss" ablation
    model.zero_grad(set_to_none=True)
    out = model(torch.randn(4, 3, 28, 28))
    model_loss(out, torch.tensor([0, 1, 2, 0]), proposal_weight=0.5).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in heads)


def test_uv_only_input() -> None:
    model = create_model("featref", num_classes=3, in_channels=2).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 2, 28, 28)).logits.shape == (2, 3)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"fusion": "max"}, "fusion must be one of")],
)
def test_invalid_options_are_refused(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        FeatRef(**kwargs)
