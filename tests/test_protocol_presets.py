"""The protocol presets: each is shipped, loads, and has the data section its name says."""

from __future__ import annotations

from pathlib import Path

import pytest

import featref
from featref.config import load_config, parse_protocol, resolved_config
from featref.evaluation.protocols import PROTOCOL_PRESETS
from featref.labels import LABEL_TABLES

CONFIGS = Path(featref.__file__).parent / "configs"


def test_there_are_the_issues_protocols():
    names = set(PROTOCOL_PRESETS)
    assert {n for n in names if n.endswith("_only")} == {
        "megc2019_casme2_only", "megc2019_samm_only", "megc2019_smic_only",
    }  # fmt: skip
    cross = [n for n in names if "_cross_" in n]
    assert len(cross) == 9
    assert sum("+" in n for n in cross) == 3
    assert {"casme2_5class", "samm_5class", "smic_3class", "casme3_3class", "casme3_7class"} < names


@pytest.mark.parametrize("name", sorted(PROTOCOL_PRESETS))
def test_protocol_preset_is_shipped_and_matches_its_name(name):
    assert (CONFIGS / f"{name}.toml").is_file()
    cfg = load_config(name)
    preset = PROTOCOL_PRESETS[name]
    assert resolved_config(cfg)["train"] == resolved_config(load_config(None))["train"] | {
        "seeds": (0, 1, 2)
    }
    assert cfg.model.name == "featref"
    if preset.reader == "megc2019_flow":
        assert cfg.data.source == "megc2019"
        if name.endswith("_only"):
            assert cfg.data.databases == (name.split("_")[1],)
            assert cfg.data.protocol == "loso"
        else:
            sources, target = parse_protocol(cfg.data.protocol)
            src, tgt = name.removeprefix("megc2019_cross_").split("_to_")
            assert (sources, target) == (tuple(src.split("+")), tgt)
            assert cfg.data.databases == ()
        assert preset.label_scheme is None
    else:
        assert cfg.data.source == "prepared" and cfg.data.protocol == "loso"
        assert LABEL_TABLES[preset.label_scheme].dataset == preset.reader
        assert "accuracy" in preset.metrics
