"""FR-specific tests: every fusion / attention / proposal option builds, runs and behaves."""

from __future__ import annotations

import itertools

import pytest
import torch

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
    loss = model_loss(out, y, proposal_weight=model.proposal_weight)
    loss.backward()
    assert torch.isfinite(loss)
    with torch.no_grad():
        out = model.eval()(x)
    if attention and proposal:
        assert ((out.attention > 0) & (out.attention < 1)).all()
    else:
        assert torch.equal(out.attention, torch.ones(4, 3))


def test_proposal_off_has_no_proposal_logits_and_no_lambda() -> None:
    model = create_model("featref", num_classes=5, proposal=False, proposal_weight=2.0).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, 28, 28))
    assert out.proposal_logits.shape == (2, 0)
    assert out.logits.shape == (2, 5)
    assert model.proposal_weight == 0.0
    assert not hasattr(model, "branches")


def test_proposal_loss_is_the_only_path_to_the_proposal_heads() -> None:
    model = create_model("featref", num_classes=3, proposal_weight=0.0).train()
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
    [({"fusion": "max"}, "fusion must be one of"), ({"proposal_weight": -1.0}, ">= 0")],
)
def test_invalid_options_are_refused(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        FeatRef(**kwargs)
