"""Every shipped config preset loads, builds its model, and is the ablation its name says."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import featref
from featref.config import load_config, resolved_config
from featref.evaluation.grid import config_changes, load_grid_file, resolve_grid
from featref.evaluation.protocols import PROTOCOL_PRESETS
from featref.models import create_model, get_model_card

CONFIGS = Path(featref.__file__).parent / "configs"
SHIPPED = sorted(p.stem for p in CONFIGS.glob("*.toml"))
#: the ablation presets (of the composite); the protocol presets are tested in test_protocol_presets
PRESETS = sorted(set(SHIPPED) - set(PROTOCOL_PRESETS))
REFERENCE = "megc2019_featref"

#: preset -> what sets it apart from the reference (see featref.evaluation.grid.config_changes)
EXPECTED_CHANGES = {
    "megc2019_fr_shared_only": "proposal=false",
    "megc2019_fr_no_attention": "attention=none",
    "megc2019_fr_legacy": "model=featref_legacy",
    "megc2019_fr_fc_supervised": "model=featref_legacy; attention=proposal",
    "megc2019_fr_fc_supervised_attention_sum": (
        "model=featref_legacy; attention=proposal; fusion=attention_sum"
    ),
    "megc2019_fr_proposal_unattended": "proposal_input=unattended",
    "megc2019_fr_no_spatial_attention": "spatial_attention=false",
    "megc2019_fr_shared_fc1024": "branch_channels=0; shared_fc=1024; spatial_attention=false",
    "megc2019_fr_proposal_logits": "add_proposal_logits=true",
    "megc2019_fr_no_proposal_loss": "proposal_weight=0.0",
    "megc2019_fr_fusion_sum": "fusion=sum",
    "megc2019_fr_fusion_attention_sum": "fusion=attention_sum",
    "megc2019_fr_lambda_0p1": "proposal_weight=0.1",
    "megc2019_fr_lambda_0p5": "proposal_weight=0.5",
    "megc2019_fr_lambda_2": "proposal_weight=2.0",
    "megc2019_fr_uv": "channels=u,v",
    "megc2019_dual_inception": "model=dual_inception; channels=u,v",
    "megc2019_off_apexnet": "model=off_apexnet; channels=u,v",
    "megc2019_ststnet": "model=ststnet",
}


@pytest.mark.parametrize("name", PRESETS)
def test_preset_loads_and_builds_its_model(name):
    cfg = load_config(name)
    assert cfg.data.source == "megc2019"
    model = create_model(
        cfg.model.name, num_classes=3, in_channels=len(cfg.data.channels), **dict(cfg.model.kwargs)
    ).eval()
    out = model(torch.zeros(2, len(cfg.data.channels), 28, 28))
    logits = out.logits if hasattr(out, "logits") else out
    assert logits.shape == (2, 3) and torch.isfinite(logits).all()
    # baselines get the channels of their paper (model card); FR readings take any
    if not cfg.model.name.startswith("featref"):
        assert tuple(cfg.data.channels) == get_model_card(cfg.model.name).channels


def test_every_ablation_is_shipped_and_differs_as_named():
    assert set(PRESETS) == {REFERENCE, *EXPECTED_CHANGES}
    ref = load_config(REFERENCE)
    for name, change in EXPECTED_CHANGES.items():
        assert config_changes(load_config(name), ref) == change, name


def test_reference_is_fr_with_defaults_and_no_train_overrides():
    ref = load_config(REFERENCE)
    assert ref.model.name == "featref" and dict(ref.model.kwargs) == {}
    assert resolved_config(ref)["train"] == resolved_config(load_config(None))["train"]
    model = create_model("featref", num_classes=3, in_channels=3)
    assert (model.fusion, model.attention, model.proposal) == ("concat", "proposal", True)
    assert ref.train.proposal_weight == 1.0


def test_shipped_ablation_grid_lists_every_preset():
    spec = load_grid_file("megc2019_ablations")
    named, reference = resolve_grid(spec)
    assert reference == REFERENCE
    assert sorted(n for n, _ in named) == PRESETS
    assert all(cfg.train.seeds == (0, 1, 2) for _, cfg in named)
