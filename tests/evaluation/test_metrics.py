"""Metric tests, sklearn style: toy cases, agreement with sklearn, invariances, errors."""

from __future__ import annotations

import numpy as np
import pytest

from featref.errors import UndefinedMetricWarning
from featref.evaluation.metrics import accuracy, confusion_matrix, uar, uf1

sklearn_metrics = pytest.importorskip("sklearn.metrics")


def test_hand_computed_toy_case():
    y_true = [0, 0, 0, 1, 1, 2]
    y_pred = [0, 0, 1, 1, 2, 2]
    # class 0: TP 2, FP 0, FN 1 -> F1 4/5; class 1: TP 1, FP 1, FN 1 -> 1/2; class 2: 2/3
    assert uf1(y_true, y_pred, labels=[0, 1, 2]) == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    # recalls 2/3, 1/2, 1
    assert uar(y_true, y_pred, labels=[0, 1, 2]) == pytest.approx((2 / 3 + 0.5 + 1) / 3)
    assert accuracy(y_true, y_pred) == pytest.approx(4 / 6)


@pytest.mark.parametrize("seed", range(20))
def test_agrees_with_sklearn_on_random_inputs(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 200))
    y_true = rng.integers(0, 3, n)
    y_pred = np.where(rng.random(n) < 0.6, y_true, rng.integers(0, 3, n))
    labels = [0, 1, 2]
    ref_f1 = sklearn_metrics.f1_score(y_true, y_pred, average="macro", labels=labels)
    ref_rec = sklearn_metrics.recall_score(y_true, y_pred, average="macro", labels=labels)
    assert uf1(y_true, y_pred, labels=labels) == pytest.approx(ref_f1)
    assert uar(y_true, y_pred, labels=labels) == pytest.approx(ref_rec)
    assert np.array_equal(
        confusion_matrix(y_true, y_pred, labels=labels),
        sklearn_metrics.confusion_matrix(y_true, y_pred, labels=labels),
    )


def test_invariant_to_sample_order_and_class_relabelling():
    rng = np.random.default_rng(1)
    y_true = rng.integers(0, 3, 100)
    y_pred = rng.integers(0, 3, 100)
    perm = rng.permutation(100)
    base = (uf1(y_true, y_pred, labels=[0, 1, 2]), uar(y_true, y_pred, labels=[0, 1, 2]))
    assert (
        uf1(y_true[perm], y_pred[perm], labels=[0, 1, 2]),
        uar(y_true[perm], y_pred[perm], labels=[0, 1, 2]),
    ) == pytest.approx(base)
    names = np.array(["neg", "pos", "sur"])
    relabel = (
        uf1(names[y_true], names[y_pred], labels=["sur", "neg", "pos"]),
        uar(names[y_true], names[y_pred], labels=["sur", "neg", "pos"]),
    )
    assert relabel == pytest.approx(base)


def test_absent_class_counts_as_zero_with_warning():
    # labels is required so that a class missing from a subset still counts (MEGC guideline)
    with pytest.warns(UndefinedMetricWarning, match="never occur"):
        assert uf1([0, 0, 1], [0, 0, 1], labels=[0, 1, 2]) == pytest.approx(2 / 3)
    with pytest.warns(UndefinedMetricWarning):
        assert uar([0, 0, 1], [0, 0, 1], labels=[0, 1, 2]) == pytest.approx(2 / 3)


def test_pooling_differs_from_averaging_folds():
    # two folds; pooled UF1 is not the mean of per-fold UF1 (the guideline pools)
    t1, p1 = [0, 1, 2, 2], [0, 1, 2, 1]
    t2, p2 = [0, 0, 1], [0, 1, 1]
    pooled = uf1(t1 + t2, p1 + p2, labels=[0, 1, 2])
    with pytest.warns(UndefinedMetricWarning):
        mean_of_folds = (uf1(t1, p1, labels=[0, 1, 2]) + uf1(t2, p2, labels=[0, 1, 2])) / 2
    assert pooled != pytest.approx(mean_of_folds)


@pytest.mark.parametrize(
    ("y_true", "y_pred", "labels", "match"),
    [
        ([0, 1], [0], [0, 1], "equal length"),
        ([], [], [0, 1], "empty"),
        ([0, 3], [0, 1], [0, 1, 2], "not in labels"),
        ([0, 1], [0, 1], [], "non-empty list"),
        ([0, 1], [0, 1], [0, 0, 1], "distinct"),
    ],
)
def test_documented_errors(y_true, y_pred, labels, match):
    with pytest.raises(ValueError, match=match):
        uf1(y_true, y_pred, labels=labels)
    with pytest.raises(ValueError, match=match):
        uar(y_true, y_pred, labels=labels)
