"""training.fit: the one place that builds a model from [model], and the one fit recipe."""

from __future__ import annotations

import numpy as np
import pytest

from featref.config import ExperimentConfig, ModelConfig, TrainConfig
from featref.errors import ConfigError
from featref.models.base import MerModel
from featref.training.fit import build_model, fit_predict


def test_build_model_errors_name_the_section_and_valid_values():
    assert isinstance(build_model(ModelConfig("ststnet"), num_classes=3, in_channels=3), MerModel)
    with pytest.raises(ConfigError, match=r"\[model\].*'nope'.*featref"):
        build_model(ModelConfig("nope"), num_classes=3, in_channels=3)
    # ModelConfig itself checks the kwargs now; build_model's own wrapping is the second line
    with pytest.raises(ConfigError, match=r"no_such_arg.*\[model"):
        build_model(ModelConfig("featref", {"no_such_arg": 1}), num_classes=3, in_channels=3)
    with pytest.raises(ConfigError, match="proposal_weight"):
        build_model(ModelConfig("featref", {"proposal_weight": 0.5}), num_classes=3, in_channels=3)


def test_fit_predict_is_deterministic_given_the_seed():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((12, 3, 28, 28)).astype(np.float32)
    y = np.arange(12) % 3
    cfg = ExperimentConfig(model=ModelConfig("ststnet"), train=TrainConfig(epochs=1, batch_size=4))
    a = fit_predict(cfg, x[:9], y[:9], x[9:], seed=5, num_classes=3)
    b = fit_predict(cfg, x[:9], y[:9], x[9:], seed=5, num_classes=3)
    assert a["probs"].shape == (3, 3) and np.array_equal(a["probs"], b["probs"])
    assert a["attention"].shape == (3, 0) and a["shared"].shape[0] == 3
