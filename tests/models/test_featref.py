"""FR-specific tests: every option builds, runs and behaves; extra outputs; vmap compatibility.

Whether each *reading* of FR is algebraically distinct from the shared-only head is tested in
``test_featref_readings.py``.
"""

from __future__ import annotations

import copy
import itertools

import pytest
import torch
import torch.nn.functional as F
from torch.func import functional_call, stack_module_state

from featref.config import TrainConfig
from featref.errors import ConfigError
from featref.models import FeatRefOutput, create_model, get_model_card
from featref.models.featref import ATTENTIONS, FUSIONS, PROPOSAL_INPUTS, FeatRef
from featref.training.losses import model_loss

SMALL = {"stream_filters": (2, 4), "branch_channels": 4, "branch_width": 8}
OPTIONS = list(itertools.product(ATTENTIONS, FUSIONS, PROPOSAL_INPUTS, (True, False)))


@pytest.mark.parametrize(("attention", "fusion", "proposal_input", "spatial"), OPTIONS)
def test_every_option_builds_and_runs(
    attention: str, fusion: str, proposal_input: str, spatial: bool
) -> None:
    model = create_model(
        "featref",
        num_classes=3,
        attention=attention,
        fusion=fusion,
        proposal_input=proposal_input,
        spatial_attention=spatial,
        **SMALL,
    )
    x = torch.randn(4, 3, 28, 28)
    y = torch.tensor([0, 1, 2, 1])
    out = model.train()(x)
    assert isinstance(out, FeatRefOutput)
    assert out.logits.shape == out.proposal_logits.shape == out.attention.shape == (4, 3)
    loss = model_loss(out, y, proposal_weight=1.0)
    loss.backward()
    assert torch.isfinite(loss)
    with torch.no_grad():
        out = model.eval()(x)
    if attention == "none":
        assert torch.equal(out.attention, torch.ones(4, 3))
    else:
        assert ((out.attention > 0) & (out.attention < 1)).all()
    if attention == "proposal":  # the attention factor is the proposal probability
        assert torch.equal(out.attention, torch.sigmoid(out.proposal_logits))


def test_default_reading_is_the_registered_default() -> None:
    model = create_model("featref", num_classes=3)
    assert (model.attention, model.proposal_input, model.fusion) == (
        "proposal",
        "attended",
        "concat",
    )
    assert model.proposal and not model.add_proposal_logits
    branch = model.branches[0]
    assert branch.reduce[0].out_channels == 32 and branch.saliency.out_channels == 1
    assert branch.fc[0].in_features == 32 * 49 and branch.fc[0].out_features == 64
    assert branch.gate is None
    assert model.classifier.in_features == 3 * 64
    legacy = create_model("featref_legacy", num_classes=3)
    assert (legacy.attention, legacy.proposal_input) == ("gate", "unattended")
    assert legacy.branches[0].fc[0].in_features == 3 * 64 * 49
    assert legacy.branches[0].saliency is None


def test_initialisation() -> None:
    """He init (zero bias) for the layers before a ReLU; the legacy reading keeps PyTorch's."""
    model = create_model("featref", num_classes=3)
    first = model.streams[0].body[0].branch1[0]
    assert torch.equal(first.bias, torch.zeros_like(first.bias))
    assert torch.equal(model.branches[0].fc[0].bias, torch.zeros(64))
    assert not torch.equal(model.classifier.bias, torch.zeros(3))  # before the softmax: default
    assert not torch.equal(model.branches[0].saliency.bias, torch.zeros(1))  # before a sigmoid
    legacy = create_model("featref_legacy", num_classes=3)
    assert not torch.equal(legacy.streams[0].body[0].branch1[0].bias, torch.zeros(6))


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


@pytest.mark.parametrize(
    ("name", "kwargs", "refined"),
    [
        ("featref", {}, 3 * 64),
        ("featref", {"proposal": False}, 0),
        ("featref", {"shared_fc": 32, "branch_channels": 0, "spatial_attention": False}, 3 * 64),
        ("featref_legacy", {}, 3 * 128),
    ],
)
def test_extra_outputs(name: str, kwargs: dict, refined: int) -> None:
    model = create_model(name, num_classes=3, **kwargs).eval()
    x = torch.randn(2, 3, 28, 28)
    with torch.no_grad():
        extra = model.extra_outputs(x)
        out = model(x)
    assert set(extra) == {"attention", "shared", "refined"}
    assert torch.equal(extra["attention"], out.attention)
    assert extra["shared"].shape == (2, 3 * 64)
    assert extra["refined"].shape == (2, refined)


@pytest.mark.parametrize(
    ("name", "in_channels", "count"),
    [("featref", 3, 355_509), ("featref", 2, 337_745), ("featref_legacy", 2, 2_434_001)],
)
def test_param_counts(name: str, in_channels: int, count: int) -> None:
    model = create_model(name, num_classes=3, in_channels=in_channels)
    assert sum(p.numel() for p in model.parameters()) == count
    if in_channels == 3:
        assert get_model_card(name).param_count == count


def test_proposal_loss_is_the_only_path_to_the_legacy_proposal_heads() -> None:
    model = create_model("featref_legacy", num_classes=3).train()
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


def test_batch_norm_in_the_streams() -> None:
    model = create_model("featref", num_classes=3, batch_norm=True)
    norms = [m for m in model.streams.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    convs = [m for m in model.streams.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(norms) == len(convs) == 3 * 2 * 6  # one per convolution
    assert all(c.bias is None for c in convs)
    out = model.train()(torch.randn(4, 3, 28, 28))
    assert torch.isfinite(out.logits).all()


def test_branch_dropout_acts_on_each_expression_specific_feature() -> None:
    x = torch.randn(4, 3, 28, 28)
    model = create_model("featref", num_classes=3, branch_dropout=0.5, dropout=0.0).train()
    torch.manual_seed(0)
    a = model(x).logits
    torch.manual_seed(1)
    assert not torch.equal(a, model(x).logits)
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(x).logits, model(x).logits)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"fusion": "max"}, "`fusion`.*must be one of"),
        ({"attention": False}, "attention='none'"),
        ({"attention": "soft"}, "`attention`.*must be one of"),
        ({"proposal_input": "both"}, "`proposal_input`.*must be one of"),
        ({"branch_dropout": 1.0}, "`branch_dropout`.*out of range"),
        ({"branch_width": 0}, "`branch_width`.*out of range"),
        ({"shared_fc": 1024}, "set branch_channels=0 and spatial_attention=false"),
        ({"add_proposal_logits": True, "proposal": False}, "needs the proposal module"),
        ({"init": "xavier"}, "`init`.*must be one of"),
    ],
)
def test_invalid_options_are_refused(kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        FeatRef(**kwargs)


VMAP_CASES = [
    ("featref", {}),
    ("featref", {"proposal_input": "unattended", "branch_dropout": 0.2}),
    ("featref", {"proposal": False}),
    ("featref", {"shared_fc": 64, "branch_channels": 0, "spatial_attention": False}),
    ("featref", {"add_proposal_logits": True, "fusion": "attention_sum"}),
    ("featref_legacy", {"branch_width": 16}),
]


@pytest.mark.parametrize(("name", "kwargs"), VMAP_CASES)
def test_forward_is_vmappable_over_stacked_parameters(name: str, kwargs: dict) -> None:
    """``functional_call`` + ``vmap(randomness="different")`` over N models' stacked parameters.

    This is how a fold-batched engine trains N models at once: it needs a forward without
    in-place ops on its inputs, without ``.item()`` and without data-dependent Python control flow
    (vmap raises on each).
    """
    models = [create_model(name, num_classes=3, **kwargs) for _ in range(3)]
    params, buffers = stack_module_state(models)
    base = copy.deepcopy(models[0]).to("meta")
    x = torch.randn(3, 5, 3, 28, 28)  # one batch per model

    def logits(p: dict, b: dict, xb: torch.Tensor) -> torch.Tensor:
        out = functional_call(base, (p, b), (xb,))
        return torch.cat([out.logits, out.proposal_logits], -1)  # (B, K) or (B, 2K)

    for m in models:
        m.eval()
    base.eval()
    with torch.no_grad():
        batched = torch.vmap(logits, randomness="different")(params, buffers, x)
        for i, m in enumerate(models):
            out = m(x[i])
            expected = torch.cat([out.logits, out.proposal_logits], -1)
            assert torch.allclose(batched[i], expected, atol=1e-5)
    # training mode: dropout differs between the N models; gradients reach the stacked parameters
    base.train()
    same = {k: v[:1].detach().expand_as(v).clone().requires_grad_(True) for k, v in params.items()}
    xs = x[:1].expand_as(x)
    out = torch.vmap(logits, randomness="different")(same, buffers, xs)
    assert not torch.equal(out[0], out[1])
    out.square().sum().backward()
    assert all(v.grad is not None and torch.isfinite(v.grad).all() for v in same.values())


def test_batch_norm_model_is_vmappable() -> None:
    models = [create_model("featref", num_classes=3, batch_norm=True).eval() for _ in range(2)]
    params, buffers = stack_module_state(models)
    base = copy.deepcopy(models[0]).to("meta").eval()
    x = torch.randn(2, 4, 3, 28, 28)

    def logits(p: dict, b: dict, xb: torch.Tensor) -> torch.Tensor:
        return functional_call(base, (p, b), (xb,)).logits

    with torch.no_grad():
        out = torch.vmap(logits)(params, buffers, x)
        assert torch.allclose(out[1], models[1](x[1]).logits, atol=1e-5)
        # training mode: each model's running statistics are updated from its own batch
        base.train()
        key = next(k for k in buffers if k.endswith("running_mean"))
        before = buffers[key].clone()
        torch.vmap(logits, randomness="different")(params, buffers, x)
        assert not torch.equal(buffers[key][0], before[0])
        assert not torch.equal(buffers[key][0] - before[0], buffers[key][1] - before[1])
