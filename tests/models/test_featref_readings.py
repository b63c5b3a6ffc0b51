"""Each reading of FR: is it algebraically distinct from the shared-only head? (issue 15, item 1)

The shared-only head (``proposal=False``) is a ReLU network on the shared map S: whatever its
widths, its logits are a *piecewise-affine* function of S. Two kinds of test:

* **collapses**: the reading computes a function the shared-only head of the same widths computes
  too. Shown by building that head's weights from the reading's and getting the same logits.
* **distinct**: the reading's logits are not piecewise affine in S, so *no* shared-only head of
  any width can compute them. Shown along a line S0 + t * D: at points where every ReLU of the
  reading keeps its on/off pattern, the reading is a smooth (analytic) function of t, and a
  non-zero second difference there means it is not affine on that interval; a function with
  finitely many affine pieces cannot match it. The same test on the shared-only head gives zero
  second differences (the control). Each distinct reading also has the structural property that
  makes it so (the proposal loss reaches the attention, alpha = sigmoid(p), ...).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from featref.models import create_model
from featref.models.featref import FeatRef
from featref.training.losses import model_loss


@dataclass(frozen=True)
class Reading:
    """A reading of FR: registered name, keyword arguments, preset, and the test's verdict."""

    name: str
    kwargs: dict
    preset: str | None
    distinct: bool


#: Every reading shipped, with its verdict. ``preset`` names src/featref/configs/<preset>.toml.
READINGS: dict[str, Reading] = {
    "default": Reading("featref", {}, "megc2019_featref", True),
    "a_fc_supervised": Reading(
        "featref_legacy", {"attention": "proposal"}, "megc2019_fr_fc_supervised", True
    ),
    "a_fc_supervised_attention_sum": Reading(
        "featref_legacy",
        {"attention": "proposal", "fusion": "attention_sum"},
        "megc2019_fr_fc_supervised_attention_sum",
        True,
    ),
    "b_proposal_unattended": Reading(
        "featref", {"proposal_input": "unattended"}, "megc2019_fr_proposal_unattended", True
    ),
    "c_no_spatial_attention": Reading(
        "featref", {"spatial_attention": False}, "megc2019_fr_no_spatial_attention", True
    ),
    "d_shared_fc1024": Reading(
        "featref",
        {"shared_fc": 1024, "branch_channels": 0, "spatial_attention": False},
        "megc2019_fr_shared_fc1024",
        True,
    ),
    "e_proposal_logits": Reading(
        "featref", {"add_proposal_logits": True}, "megc2019_fr_proposal_logits", True
    ),
    "no_attention_factor": Reading(
        "featref", {"attention": "none"}, "megc2019_fr_no_attention", True
    ),
    "legacy": Reading("featref_legacy", {}, "megc2019_fr_legacy", True),
    # the collapsing ones
    "conv_branches_without_attention": Reading(
        "featref", {"attention": "none", "spatial_attention": False}, None, False
    ),
    "legacy_without_gate": Reading("featref_legacy", {"attention": "none"}, None, False),
    "legacy_without_gate_sum_fusion": Reading(
        "featref_legacy", {"attention": "none", "fusion": "sum"}, None, False
    ),
    "e_without_attention": Reading(
        "featref",
        {"attention": "none", "spatial_attention": False, "add_proposal_logits": True},
        None,
        False,
    ),
    "d_without_attention": Reading(
        "featref",
        {"attention": "none", "shared_fc": 1024, "branch_channels": 0, "spatial_attention": False},
        None,
        False,
    ),
}


def _build(reading: Reading, seed: int = 0) -> FeatRef:
    torch.manual_seed(seed)
    return create_model(reading.name, num_classes=3, **reading.kwargs).double().eval()


def _shared(model: FeatRef, n: int = 1, seed: int = 1) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 3, 28, 28, generator=gen, dtype=torch.float64)
    with torch.no_grad():
        return model.forward_features(x)  # (n, 192, 7, 7), a realistic (non-negative) map


# ----------------------------------------------------------------------------------------------
# collapse: build the shared-only head of the same widths from the reading's weights


def _equivalent_shared_only(model: FeatRef) -> FeatRef:
    """The ``proposal=False`` model with the same widths that computes ``model``'s logits."""
    k = model.num_classes
    b0 = model.branches[0]
    width = b0.fc[0].out_features
    channels = b0.reduce[0].out_channels if isinstance(b0.reduce, nn.Sequential) else 0
    shared_fc = model.shared_fc[1].out_features if isinstance(model.shared_fc, nn.Sequential) else 0
    head = FeatRef(
        num_classes=k,
        in_channels=len(model.streams),
        branch_channels=channels,
        branch_width=width,
        shared_fc=shared_fc,
        spatial_attention=False,
        proposal=False,
    ).double()
    state = {n: p for n, p in model.state_dict().items() if n.startswith(("streams", "shared_fc"))}
    layers = [m for m in head.shared_head if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        if channels:  # the K 1x1 refinements side by side are one 1x1 convolution
            layers[0].weight.copy_(torch.cat([b.reduce[0].weight for b in model.branches]))
            layers[0].bias.copy_(torch.cat([b.reduce[0].bias for b in model.branches]))
        fc = layers[-1]
        fc.weight.zero_()
        step = fc.in_features // k if channels else fc.in_features
        for i, b in enumerate(model.branches):  # block-diagonal (conv) or stacked (FC) branches
            cols = slice(i * step, (i + 1) * step) if channels else slice(None)
            fc.weight[i * width : (i + 1) * width, cols] = b.fc[0].weight
        fc.bias.copy_(torch.cat([b.fc[0].bias for b in model.branches]))
        weight, bias = model.classifier.weight.clone(), model.classifier.bias.clone()
        if model.fusion == "sum":  # C (sum_k f_k) = [C ... C] concat(f_k)
            weight = weight.repeat(1, k)
        if model.add_proposal_logits:  # logits_j + w_j . f_j + b_j is linear in concat(f_k)
            for j, b in enumerate(model.branches):
                weight[j, j * width : (j + 1) * width] += b.proposal.weight[0]
                bias[j] += b.proposal.bias[0]
        head.classifier.weight.copy_(weight)
        head.classifier.bias.copy_(bias)
    head.load_state_dict(state, strict=False)
    return head.eval()


COLLAPSING = [k for k, r in READINGS.items() if not r.distinct]
DISTINCT = [k for k, r in READINGS.items() if r.distinct]


@pytest.mark.parametrize("key", COLLAPSING)
def test_collapsing_reading_equals_a_shared_only_head(key: str) -> None:
    model = _build(READINGS[key])
    head = _equivalent_shared_only(model)
    x = torch.rand(6, 3, 28, 28, dtype=torch.float64)
    with torch.no_grad():
        assert torch.allclose(model(x).logits, head(x).logits, rtol=0, atol=1e-10)
    # not a coincidence of the initialisation: perturb the reading's weights and rebuild
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
        assert torch.allclose(
            model(x).logits, _equivalent_shared_only(model)(x).logits, rtol=0, atol=1e-10
        )


# ----------------------------------------------------------------------------------------------
# distinct: non-zero curvature where every ReLU keeps its pattern


#: Rounding level of a second difference of float64 logits, relative to the logits' size
#: (h = 1e-4 along a line of length ~|S|)
NOISE = 1e-13


def _second_differences(model: FeatRef, n: int = 48, h: float = 1e-4) -> torch.Tensor:
    """Max |second difference| of the logits at triples (t, t+h, t+2h) with constant ReLU pattern.

    Returns the values, relative to the largest logit on the line, for the triples where no ReLU
    of the head changes state (the head is then analytic on the triple's interval).
    """
    s0 = _shared(model)
    gen = torch.Generator().manual_seed(2)
    direction = torch.randn(s0.shape, generator=gen, dtype=torch.float64) * s0.std()
    t = torch.linspace(0, 1, n, dtype=torch.float64)
    ts = torch.stack([t, t + h, t + 2 * h], 1).reshape(-1)  # (3n,)
    points = s0 + ts.view(-1, 1, 1, 1) * direction  # (3n, C, 7, 7)
    masks: list[torch.Tensor] = []
    hooks = [
        m.register_forward_hook(lambda _m, _i, out: masks.append((out > 0).flatten(1)))
        for m in model.modules()
        if isinstance(m, nn.ReLU)
    ]
    try:
        with torch.no_grad():
            logits = model.forward_head(points).logits.view(n, 3, -1)
    finally:
        for hook in hooks:
            hook.remove()
    pattern = torch.cat(masks, 1).view(n, 3, -1)
    constant = (pattern == pattern[:, :1]).all(2).all(1)  # (n,)
    d2 = (logits[:, 2] - 2 * logits[:, 1] + logits[:, 0]).abs().amax(1) / logits.abs().max()
    assert constant.sum() >= n // 4, "too few triples without a ReLU change; shorten the line"
    return d2[constant]


def test_shared_only_head_is_piecewise_affine() -> None:
    """The control: zero second differences wherever the ReLU pattern is constant."""
    for branch_channels in (32, 0):
        torch.manual_seed(0)
        model = FeatRef(branch_channels=branch_channels, proposal=False).double().eval()
        assert _second_differences(model).max() < NOISE  # observed <= 2e-14


@pytest.mark.parametrize("key", DISTINCT)
def test_distinct_reading_is_not_piecewise_affine(key: str) -> None:
    d2 = _second_differences(_build(READINGS[key]))
    assert (d2 > 10 * NOISE).float().mean() > 0.9, d2  # observed >= 2e-11


def _grads(model: FeatRef, loss: str) -> dict[str, torch.Tensor | None]:
    """Gradients of the CE alone (``"ce"``) or of the proposal loss alone (``"proposal"``)."""
    model = model.float().train()
    model.zero_grad(set_to_none=True)
    torch.manual_seed(3)
    out = model(torch.rand(8, 3, 28, 28))
    y = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])
    if loss == "ce":
        total = model_loss(out, y, proposal_weight=0.0)
    else:
        # the proposal term of featref.training.losses.model_loss, alone
        onehot = F.one_hot(y, 3).to(out.proposal_logits.dtype)
        total = F.binary_cross_entropy_with_logits(out.proposal_logits, onehot)
    total.backward()
    return {n: p.grad for n, p in model.named_parameters()}


def _reaches(grads: dict, part: str) -> bool:
    found = [g for n, g in grads.items() if f".{part}." in n]
    assert found, part
    return all(g is not None and g.abs().sum() > 0 for g in found)


def test_default_attention_factor_is_the_supervised_proposal_probability() -> None:
    model = _build(READINGS["default"])
    with torch.no_grad():
        out = model(torch.rand(4, 3, 28, 28, dtype=torch.float64))
    assert torch.equal(out.attention, torch.sigmoid(out.proposal_logits))
    prop = _grads(model, "proposal")
    # the proposal loss trains the spatial attention, the refinement and the feature of each branch
    assert all(_reaches(prop, part) for part in ("saliency", "reduce", "fc", "proposal"))
    # and the proposal output reaches the prediction: the CE alone trains the proposal heads
    assert _reaches(_grads(model, "ce"), "proposal")


def test_legacy_gate_gets_no_gradient_from_the_proposal_loss() -> None:
    """The defect of the legacy reading (issue 15): its attention cannot become class-specific."""
    prop = _grads(_build(READINGS["legacy"]), "proposal")
    assert all(g is None for n, g in prop.items() if ".gate." in n)
    assert _reaches(prop, "fc")
    ce = _grads(_build(READINGS["legacy"]), "ce")
    assert all(g is None for n, g in ce.items() if ".proposal." in n)  # never reaches the logits
    # reading (b) on the legacy branches: the proposal head on the gated feature trains the gate
    gated = _build(Reading("featref_legacy", {"proposal_input": "attended"}, None, True))
    assert _reaches(_grads(gated, "proposal"), "gate")


def test_b_proposal_on_the_unattended_feature_leaves_spatial_attention_to_the_ce() -> None:
    prop = _grads(_build(READINGS["b_proposal_unattended"]), "proposal")
    assert all(g is None or not g.abs().sum() > 0 for n, g in prop.items() if ".saliency." in n)
    assert _reaches(prop, "reduce")
    assert _reaches(_grads(_build(READINGS["b_proposal_unattended"]), "ce"), "saliency")


@pytest.mark.parametrize("key", ["a_fc_supervised", "c_no_spatial_attention", "d_shared_fc1024"])
def test_supervised_attention_readings(key: str) -> None:
    model = _build(READINGS[key])
    with torch.no_grad():
        out = model(torch.rand(4, 3, 28, 28, dtype=torch.float64))
    assert torch.equal(out.attention, torch.sigmoid(out.proposal_logits))
    assert all(b.saliency is None for b in model.branches)
    assert _reaches(_grads(model, "proposal"), "fc")


def test_d_branches_read_the_fc1024_vector() -> None:
    model = _build(READINGS["d_shared_fc1024"])
    assert model.shared_fc[1].out_features == 1024
    assert all(b.fc[0].in_features == 1024 for b in model.branches)


def test_e_proposal_log_odds_are_added_to_the_class_logits() -> None:
    model = _build(READINGS["e_proposal_logits"])
    x = torch.rand(4, 3, 28, 28, dtype=torch.float64)
    with torch.no_grad():
        out = model(x)
        model.add_proposal_logits = False
        plain = model(x)
    assert torch.allclose(out.logits - plain.logits, out.proposal_logits, atol=1e-12)


def test_every_reading_with_a_preset_is_shipped() -> None:
    from featref.config import load_config

    for key, reading in READINGS.items():
        if reading.preset is None:
            continue
        cfg = load_config(reading.preset)
        assert cfg.model.name == reading.name, key
        assert dict(cfg.model.kwargs) == reading.kwargs, key
