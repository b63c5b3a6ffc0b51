"""Configuration: defaults, TOML presets, precedence and errors."""

from __future__ import annotations

import pytest

from featref.config import DataConfig, TrainConfig, load_config, resolved_config
from featref.errors import ConfigError


def test_precedence_defaults_file_flags(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text(
        '[train]\nepochs = 7\nlr = 0.01\n[model]\nname = "featref"\n'
        '[model.kwargs]\nfusion = "sum"\n'
    )
    cfg = load_config(f, {"train": {"epochs": 3}, "model": {"kwargs": {"proposal": False}}})
    assert cfg.train.epochs == 3  # flag beats file
    assert cfg.train.lr == 0.01  # file beats default
    assert cfg.train.batch_size == TrainConfig().batch_size  # default
    assert dict(cfg.model.kwargs) == {"fusion": "sum", "proposal": False}
    assert resolved_config(cfg)["model"]["kwargs"]["fusion"] == "sum"


def test_shipped_preset_by_name():
    cfg = load_config("megc2019_featref")
    assert cfg.data.source == "megc2019" and cfg.model.name == "featref"


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("[train]\nepoch = 3\n", r"Unknown key\(s\) \['epoch'\] in \[train\]. Valid keys"),
        ("[trian]\n", r"Unknown section\(s\) \['trian'\]"),
        ("[train]\nepochs = 0\n", "`epochs` in \\[train\\] is out of range. Got 0"),
        ("[data]\nchannels = ['u', 'w']\n", "`channels` in \\[data\\] must be distinct names"),
        ("[data]\nsource = 'casme9'\n", "`source` in \\[data\\] must be one of"),
        (
            "[train]\nprecision = 'fp16'\n",
            "`precision` in \\[train\\] must be one of \\['fp32', 'bf16'\\]",
        ),
        ("not toml [", "is not valid TOML"),
    ],
)
def test_errors_name_the_key_and_value(tmp_path, text, match):
    f = tmp_path / "bad.toml"
    f.write_text(text)
    with pytest.raises(ConfigError, match=match):
        load_config(f)


def test_missing_file_lists_presets(tmp_path):
    with pytest.raises(ConfigError, match="Presets: .*megc2019_featref"):
        load_config(tmp_path / "nope.toml")


def test_dataclasses_are_frozen_and_validated():
    with pytest.raises(ConfigError, match="threads"):
        TrainConfig(threads=0)
    with pytest.raises(AttributeError):
        DataConfig().source = "x"  # type: ignore[misc]


def test_docs_list_every_selectable_key():
    # docs/experiments.md names the keys --select accepts; it must not fall behind the code.
    from pathlib import Path

    from featref.config import SELECTABLE_TRAIN

    text = (Path(__file__).resolve().parents[1] / "docs" / "experiments.md").read_text()
    paragraph = text.split("Selectable keys", 1)[1].split("\n\n", 1)[0]
    missing = [k for k in SELECTABLE_TRAIN if f"`{k}`" not in paragraph]
    assert not missing, f"docs/experiments.md's 'Selectable keys' lacks {missing}"
