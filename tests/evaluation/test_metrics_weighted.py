"""Weighted F1 against scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest

from featref.evaluation.metrics import weighted_f1

sk = pytest.importorskip("sklearn.metrics")


@pytest.mark.parametrize("seed", range(5))
def test_weighted_f1_equals_sklearn(seed):
    rng = np.random.default_rng(seed)
    labels = [0, 1, 2, 3, 4]
    y_true = rng.integers(0, 4, 60)  # class 4 absent from y_true: weight 0
    y_pred = rng.integers(0, 5, 60)
    expected = sk.f1_score(y_true, y_pred, labels=labels, average="weighted", zero_division=0)
    assert weighted_f1(y_true, y_pred, labels=labels) == pytest.approx(expected)
